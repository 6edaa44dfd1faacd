import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { ClusterTable, NodePoolTable } from '../../db/schema.js';
import type { ClusterSpec } from '../../infra/driver.js';
import { claimForJob, releaseFromJob } from '../jobs/job-repo.js';

export type ClusterRow = Selectable<ClusterTable>;
export type NodePoolRow = Selectable<NodePoolTable>;

export const CLUSTER_STATUSES = ['provisioning', 'running', 'upgrading', 'deleting', 'deleted', 'failed'] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

export function createClusterRepo(db: Db) {
  return {
    async insert(trx: Db, row: ClusterRow): Promise<void> {
      await trx.insertInto('clusters').values(row).execute();
    },

    async list(accountId: string, filter: { status?: string | undefined; cloud_id?: string | undefined }, page: KeysetPage): Promise<ClusterRow[]> {
      let query = db.selectFrom('clusters').selectAll().where('account_id', '=', accountId);
      // Deleted clusters stay readable by id (to follow their destroy job) but leave the list unless asked for.
      query = filter.status !== undefined ? query.where('status', '=', filter.status) : query.where('status', '!=', 'deleted');
      if (filter.cloud_id !== undefined) query = query.where('cloud_id', '=', filter.cloud_id);
      return newestFirst(query, 'id', page).execute();
    },

    async get(accountId: string, id: string): Promise<ClusterRow | undefined> {
      return db.selectFrom('clusters').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
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
  const pools = await db
    .selectFrom('node_pools')
    .selectAll()
    .where('cluster_id', '=', clusterId)
    .where('deleted_at', 'is', null)
    .orderBy('id')
    .execute();
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
