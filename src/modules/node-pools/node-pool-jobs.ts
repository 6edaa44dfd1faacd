import type { Db } from '../../db/database.js';
import { startUsage, stopUsage } from '../billing/usage-recorder.js';
import { loadClusterSpec, releaseCluster } from '../clusters/cluster-repo.js';
import type { JobHandler, JobRow } from '../jobs/job-types.js';
import { parseParams } from '../jobs/job-types.js';

type PoolChanges = Partial<{ status: string; status_reason: string | null; min_size: number; max_size: number; desired_size: number; current_size: number; deleted_at: string }>;

/** Changes the pool and gives its cluster back, in the job's finishing transaction. */
async function settle(trx: Db, job: JobRow, changes: PoolChanges, now: string): Promise<void> {
  await trx.updateTable('node_pools').set({ ...changes, updated_at: now }).where('id', '=', job.resource_id).execute();
  if (job.cluster_id !== null) await releaseCluster(trx, job.cluster_id, job.id, {}, now);
}

async function poolOperationBase(db: Db, job: JobRow) {
  const cluster = await loadClusterSpec(db, job.cluster_id ?? '');
  const row = await db.selectFrom('node_pools').selectAll().where('id', '=', job.resource_id).executeTakeFirstOrThrow();
  const pool = { id: row.id, name: row.name, instanceType: row.instance_type, minSize: row.min_size, maxSize: row.max_size, desiredSize: row.desired_size };
  return { cluster, pool };
}

const sizesOf = (job: JobRow) => {
  const input = parseParams(job).input;
  return { min_size: Number(input.min_size), max_size: Number(input.max_size), desired_size: Number(input.desired_size) };
};

export function nodePoolJobHandlers(): Record<'node_pool.create' | 'node_pool.resize' | 'node_pool.delete', JobHandler> {
  return {
    'node_pool.create': {
      operation: async (db, job) => ({ kind: 'node_pool.create', ...(await poolOperationBase(db, job)) }),
      succeeded: async (trx, job, _outputs, now) => {
        const pool = await trx.selectFrom('node_pools').select('desired_size').where('id', '=', job.resource_id).executeTakeFirstOrThrow();
        await settle(trx, job, { status: 'running', status_reason: null, current_size: pool.desired_size }, now);
        await startUsage(trx, { accountId: job.account_id, resourceType: 'node_pool', resourceId: job.resource_id, quantity: pool.desired_size }, now);
      },
      failed: (trx, job, reason, now) => settle(trx, job, { status: 'failed', status_reason: reason, current_size: 0 }, now),
      canceled: (trx, job, now) => settle(trx, job, { status: 'deleted', status_reason: 'Creation was canceled.', current_size: 0, deleted_at: now }, now),
    },

    'node_pool.resize': {
      operation: async (db, job) => {
        const base = await poolOperationBase(db, job);
        const sizes = sizesOf(job);
        return { kind: 'node_pool.resize', ...base, to: { minSize: sizes.min_size, maxSize: sizes.max_size, desiredSize: sizes.desired_size } };
      },
      succeeded: async (trx, job, _outputs, now) => {
        const sizes = sizesOf(job);
        await settle(trx, job, { status: 'running', status_reason: null, ...sizes, current_size: sizes.desired_size }, now);
        await startUsage(trx, { accountId: job.account_id, resourceType: 'node_pool', resourceId: job.resource_id, quantity: sizes.desired_size }, now);
      },
      // The node group keeps its old sizes when a resize does not go through.
      failed: (trx, job, reason, now) => settle(trx, job, { status: 'running', status_reason: `Resize failed: ${reason}` }, now),
      canceled: (trx, job, now) => settle(trx, job, { status: 'running', status_reason: job.started_at === null ? null : 'Resize was canceled; sizes are unchanged.' }, now),
    },

    'node_pool.delete': {
      operation: async (db, job) => ({ kind: 'node_pool.delete', ...(await poolOperationBase(db, job)) }),
      succeeded: async (trx, job, _outputs, now) => {
        await settle(trx, job, { status: 'deleted', status_reason: null, current_size: 0, deleted_at: now }, now);
        await stopUsage(trx, job.resource_id, now);
      },
      failed: (trx, job, reason, now) => settle(trx, job, { status: 'failed', status_reason: `Removal failed: ${reason}` }, now),
      canceled: (trx, job, now) =>
        job.started_at === null
          ? settle(trx, job, { status: String(parseParams(job).input.previous_status ?? 'running') }, now)
          : settle(trx, job, { status: 'failed', status_reason: 'Removal was canceled part-way; remove it again.' }, now),
    },
  };
}
