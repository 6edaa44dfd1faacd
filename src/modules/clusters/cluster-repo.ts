import type { Selectable } from 'kysely';
import type { ResourceFence } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';
import { idsIn } from '../../db/fence-sql.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { ClusterTable } from '../../db/schema.js';
import type { ClusterSpec } from '../../infra/driver.js';
import { claimForJob, releaseFromJob } from '../jobs/job-repo.js';
import { livePoolsOf } from '../node-pools/node-pool-repo.js';

export type ClusterRow = Selectable<ClusterTable>;

export const CLUSTER_STATUSES = ['provisioning', 'running', 'upgrading', 'deleting', 'deleted', 'failed'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

export function createClusterRepo(db: Db) {
  return {
    async insert(trx: Db, row: ClusterRow): Promise<void> {
      await trx.insertInto('clusters').values(row).execute();
    },

    async list(accountId: string, filter: { status?: string | undefined; cloud_id?: string | undefined }, page: KeysetPage, fence: ResourceFence | null = null): Promise<ClusterRow[]> {
      let query = db.selectFrom('clusters').selectAll().where('account_id', '=', accountId);
      // A key limited to some clusters sees those alone (in the query, so pages stay full and cursors exact).
      if (fence !== null) query = query.where((eb) => eb.or(idsIn(eb, 'id', fence.clusters)));
      // Deleted clusters stay readable by id (to follow their destroy job) but leave the list unless asked for.
      query = filter.status !== undefined ? query.where('status', '=', filter.status) : query.where('status', '!=', 'deleted');
      if (filter.cloud_id !== undefined) query = query.where('cloud_id', '=', filter.cloud_id);
      return newestFirst(query, 'id', page).execute();
    },

    async get(accountId: string, id: string, q: Db = db): Promise<ClusterRow | undefined> {
      return q.selectFrom('clusters').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },

    async update(accountId: string, id: string, changes: Partial<ClusterRow>): Promise<boolean> {
      const result = await db
        .updateTable('clusters')
        .set(changes)
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('status', 'not in', ['deleting', 'deleted'])
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Claims the cluster for one job (jobs/job-repo.ts claimForJob). */
    claimForJob(trx: Db, accountId: string, id: string, jobId: string, allowed: readonly ClusterStatus[], changes: Partial<ClusterRow>): Promise<boolean> {
      return claimForJob(trx, 'clusters', { accountId, id }, jobId, allowed, changes);
    },

    /**
     * Takes the cluster's row lock for the rest of the transaction (a no-op write) if it is running (and,
     * with `idle`, held by no job). Work that must not outlive the cluster (an app created on it, a
     * terminal session) then serialises with a concurrent destroy, which claims the same row first and
     * counts what is left on it after. False: not running (or busy).
     */
    async lockRunning(trx: Db, accountId: string, id: string, options: { idle: boolean }): Promise<boolean> {
      let query = trx
        .updateTable('clusters')
        .set((eb) => ({ updated_at: eb.ref('clusters.updated_at') }))
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('status', '=', 'running')
        .where('deleted_at', 'is', null);
      if (options.idle) query = query.where('active_job_id', 'is', null);
      const result = await query.executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** The account's clusters that exist (every status but deleted): what a plan's cluster limit counts. */
    async liveCount(trx: Db, accountId: string): Promise<number> {
      const row = await trx
        .selectFrom('clusters')
        .select((eb) => eb.fn.countAll<number | string>().as('count'))
        .where('account_id', '=', accountId)
        .where('deleted_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },

    /** Applications still on the cluster (a destroy waits for them to be deleted). */
    async liveAppCount(trx: Db, id: string): Promise<number> {
      const row = await trx
        .selectFrom('apps')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('cluster_id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },
  };
}

export type ClusterRepo = ReturnType<typeof createClusterRepo>;

/** Gives the cluster back when its job ends (only if this job still holds it). */
export function releaseCluster(trx: Db, clusterId: string, jobId: string, changes: Partial<ClusterRow>, now: string): Promise<void> {
  return releaseFromJob(trx, 'clusters', clusterId, jobId, changes, now);
}

/** The cluster as the driver sees it: its cloud's provider and its live node pools. */
export async function loadClusterSpec(db: Db, clusterId: string): Promise<ClusterSpec> {
  const cluster = await db
    .selectFrom('clusters')
    .innerJoin('clouds', 'clouds.id', 'clusters.cloud_id')
    .select(['clusters.id', 'clusters.name', 'clusters.region', 'clusters.kubernetes_version', 'clouds.provider'])
    .where('clusters.id', '=', clusterId)
    .executeTakeFirstOrThrow();
  const pools = await livePoolsOf(db, clusterId);
  return {
    id: cluster.id,
    name: cluster.name,
    provider: cluster.provider as ClusterSpec['provider'],
    region: cluster.region,
    kubernetesVersion: cluster.kubernetes_version,
    nodePools: pools.map((pool) => ({
      id: pool.id,
      name: pool.name,
      instanceType: pool.instance_type,
      minSize: pool.min_size,
      maxSize: pool.max_size,
      desiredSize: pool.desired_size,
      currentSize: pool.current_size,
    })),
  };
}
