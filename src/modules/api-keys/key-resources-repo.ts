import type { FenceLookups, ResourceList } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';

/**
 * The lookups behind a fenced key's checks (auth/resource-fence.ts). Nothing is remembered: an owner found
 * in memory would answer an existing hidden id faster than a missing one (one read each way keeps the 404
 * of both alike), and only fenced keys on app, job and cloud routes pay for it.
 */
export function createFenceLookups(db: Db): FenceLookups {
  return {
    async appCluster(accountId, appId) {
      const row = await db.selectFrom('apps').select('cluster_id').where('account_id', '=', accountId).where('id', '=', appId).executeTakeFirst();
      return row?.cluster_id ?? null;
    },

    async jobOwner(accountId, jobId) {
      const row = await db
        .selectFrom('jobs')
        .leftJoin('dag_bundles', (join) => join.onRef('dag_bundles.id', '=', 'jobs.resource_id').on('jobs.resource_type', '=', 'dag_bundle'))
        .select(['jobs.cluster_id', 'jobs.resource_type', 'jobs.resource_id', 'dag_bundles.app_id'])
        .where('jobs.account_id', '=', accountId)
        .where('jobs.id', '=', jobId)
        .executeTakeFirst();
      if (row === undefined) return null;
      return { clusterId: row.cluster_id, appId: row.resource_type === 'app' ? row.resource_id : row.app_id };
    },

    async cloudCarries(accountId, cloudId, clusterIds) {
      const row = await db
        .selectFrom('clusters')
        .select('id')
        .where('account_id', '=', accountId)
        .where('cloud_id', '=', cloudId)
        .where('id', 'in', clusterIds)
        // A listed cluster that was deleted no longer shows its cloud.
        .where('deleted_at', 'is', null)
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
