import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { NodePoolTable } from '../../db/schema.js';

export type NodePoolRow = Selectable<NodePoolTable>;

/** What a pool's job writes when it ends. */
export type PoolChanges = Partial<Pick<NodePoolRow, 'status' | 'status_reason' | 'min_size' | 'max_size' | 'desired_size' | 'current_size' | 'deleted_at'>>;

export function createNodePoolRepo(db: Db) {
  return {
    async insert(trx: Db, row: NodePoolRow): Promise<void> {
      await trx.insertInto('node_pools').values(row).execute();
    },

    async get(accountId: string, clusterId: string, poolId: string, q: Db = db): Promise<NodePoolRow | undefined> {
      return q
        .selectFrom('node_pools')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('cluster_id', '=', clusterId)
        .where('id', '=', poolId)
        .executeTakeFirst();
    },

    async list(accountId: string, clusterId: string, filter: { includeDeleted: boolean }, page: KeysetPage): Promise<NodePoolRow[]> {
      let query = db.selectFrom('node_pools').selectAll().where('account_id', '=', accountId).where('cluster_id', '=', clusterId);
      if (!filter.includeDeleted) query = query.where('deleted_at', 'is', null);
      return newestFirst(query, 'id', page).execute();
    },

    /** Moves the pool into its job's status only if it is still in one that allows it; false otherwise. */
    async claim(trx: Db, poolId: string, allowed: readonly string[], status: string, now: string): Promise<boolean> {
      const result = await trx
        .updateTable('node_pools')
        .set({ status, status_reason: null, updated_at: now })
        .where('id', '=', poolId)
        .where('status', 'in', [...allowed])
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export type NodePoolRepo = ReturnType<typeof createNodePoolRepo>;

// By id, for job handlers and the cluster's own jobs: the job already holds the pool's cluster.

export async function getPool(q: Db, poolId: string): Promise<NodePoolRow> {
  return q.selectFrom('node_pools').selectAll().where('id', '=', poolId).executeTakeFirstOrThrow();
}

export async function updatePool(trx: Db, poolId: string, changes: PoolChanges, now: string): Promise<void> {
  await trx.updateTable('node_pools').set({ ...changes, updated_at: now }).where('id', '=', poolId).execute();
}

/** The cluster's pools that are not deleted, oldest first. */
export async function livePoolsOf(q: Db, clusterId: string): Promise<NodePoolRow[]> {
  return q.selectFrom('node_pools').selectAll().where('cluster_id', '=', clusterId).where('deleted_at', 'is', null).orderBy('id').execute();
}

/** A cluster destroy takes its live pools with it: marks them deleting and returns the status each had. */
export async function markPoolsDeleting(trx: Db, clusterId: string, now: string): Promise<Record<string, string>> {
  const pools = await trx.selectFrom('node_pools').select(['id', 'status']).where('cluster_id', '=', clusterId).where('deleted_at', 'is', null).execute();
  await trx.updateTable('node_pools').set({ status: 'deleting', updated_at: now }).where('cluster_id', '=', clusterId).where('deleted_at', 'is', null).execute();
  return Object.fromEntries(pools.map((pool) => [pool.id, pool.status]));
}

/** Puts pools a destroy marked deleting back to the statuses they had (those still deleting). */
export async function restorePoolStatuses(trx: Db, statuses: Record<string, string>, now: string): Promise<void> {
  for (const [poolId, status] of Object.entries(statuses)) {
    await trx.updateTable('node_pools').set({ status, updated_at: now }).where('id', '=', poolId).where('status', '=', 'deleting').execute();
  }
}

/** Marks every live pool of the cluster deleted; returns their ids. */
export async function deleteLivePools(trx: Db, clusterId: string, now: string): Promise<string[]> {
  const pools = await trx.selectFrom('node_pools').select('id').where('cluster_id', '=', clusterId).where('deleted_at', 'is', null).execute();
  await trx
    .updateTable('node_pools')
    .set({ status: 'deleted', current_size: 0, deleted_at: now, updated_at: now })
    .where('cluster_id', '=', clusterId)
    .where('deleted_at', 'is', null)
    .execute();
  return pools.map((pool) => pool.id);
}
