import type { FenceLookups, ResourceList } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';
import { LruMap } from '../../lib/lru.js';

/** Owners remembered: an app never moves to another cluster, and a job never changes what it works on. */
const OWNERS_KEPT = 10_000;

/**
 * The lookups behind a fenced key's checks (auth/resource-fence.ts). Owners are immutable, so they are
 * remembered once found; an id that matched nothing is not (it may be created a moment later).
 */
export function createFenceLookups(db: Db): FenceLookups {
  const appClusters = new LruMap<string, string>(OWNERS_KEPT);
  const jobOwners = new LruMap<string, { clusterId: string | null; appId: string | null }>(OWNERS_KEPT);

  return {
    async appCluster(accountId, appId) {
      const key = `${accountId} ${appId}`;
      const known = appClusters.get(key);
      if (known !== undefined) return known;
      const row = await db.selectFrom('apps').select('cluster_id').where('account_id', '=', accountId).where('id', '=', appId).executeTakeFirst();
      if (row === undefined) return null;
      appClusters.set(key, row.cluster_id);
      return row.cluster_id;
    },

    async jobOwner(accountId, jobId) {
      const key = `${accountId} ${jobId}`;
      const known = jobOwners.get(key);
      if (known !== undefined) return known;
      const row = await db
        .selectFrom('jobs')
        .leftJoin('dag_bundles', (join) => join.onRef('dag_bundles.id', '=', 'jobs.resource_id').on('jobs.resource_type', '=', 'dag_bundle'))
        .select(['jobs.cluster_id', 'jobs.resource_type', 'jobs.resource_id', 'dag_bundles.app_id'])
        .where('jobs.account_id', '=', accountId)
        .where('jobs.id', '=', jobId)
        .executeTakeFirst();
      if (row === undefined) return null;
      const owner = { clusterId: row.cluster_id, appId: row.resource_type === 'app' ? row.resource_id : row.app_id };
      jobOwners.set(key, owner);
      return owner;
    },

    async cloudCarries(accountId, cloudId, clusterIds) {
      const row = await db
        .selectFrom('clusters')
        .select('id')
        .where('account_id', '=', accountId)
        .where('cloud_id', '=', cloudId)
        .where('id', 'in', clusterIds)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}

/** The ids of `list` that name no live cluster or app of the account, each with where it sits (`resources.apps.0`). */
export async function unknownResources(db: Db, accountId: string, list: ResourceList): Promise<string[]> {
  const found = async (table: 'clusters' | 'apps', ids: readonly string[]): Promise<Set<string>> => {
    if (ids.length === 0) return new Set();
    const rows = await db.selectFrom(table).select('id').where('account_id', '=', accountId).where('id', 'in', ids).where('deleted_at', 'is', null).execute();
    return new Set(rows.map((row) => row.id));
  };
  const [clusters, apps] = await Promise.all([found('clusters', list.clusters), found('apps', list.apps)]);
  return [
    ...list.clusters.flatMap((id, index) => (clusters.has(id) ? [] : [`resources.clusters.${index}`])),
    ...list.apps.flatMap((id, index) => (apps.has(id) ? [] : [`resources.apps.${index}`])),
  ];
}
