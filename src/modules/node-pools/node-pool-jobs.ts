import type { Db } from '../../db/database.js';
import { startUsage, stopUsage } from '../billing/usage-repo.js';
import { loadClusterSpec, releaseCluster } from '../clusters/cluster-repo.js';
import type { Job, JobHandlers } from '../jobs/job-types.js';
import { getPool, updatePool, type PoolChanges } from './node-pool-repo.js';

/** Changes the pool and gives its cluster back, in the job's finishing transaction. */
async function settle(trx: Db, job: Job, changes: PoolChanges, now: string): Promise<void> {
  await updatePool(trx, job.resource_id, changes, now);
  if (job.cluster_id !== null) await releaseCluster(trx, job.cluster_id, job.id, {}, now);
}

async function poolOperationBase(db: Db, job: Job) {
  const cluster = await loadClusterSpec(db, job.cluster_id ?? '');
  const row = await getPool(db, job.resource_id);
  const pool = { id: row.id, name: row.name, instanceType: row.instance_type, minSize: row.min_size, maxSize: row.max_size, desiredSize: row.desired_size };
  return { cluster, pool };
}

export function nodePoolJobHandlers(): Pick<Required<JobHandlers>, 'node_pool.create' | 'node_pool.resize' | 'node_pool.delete'> {
  return {
    'node_pool.create': {
      operation: async (db, job) => ({ kind: 'node_pool.create', ...(await poolOperationBase(db, job)) }),
      succeeded: async (trx, job, now) => {
        const pool = await getPool(trx, job.resource_id);
        await settle(trx, job, { status: 'running', status_reason: null, current_size: pool.desired_size }, now);
        await startUsage(trx, { accountId: job.account_id, resourceType: 'node_pool', resourceId: job.resource_id, quantity: pool.desired_size }, now);
      },
      failed: (trx, job, reason, now) => settle(trx, job, { status: 'failed', status_reason: reason, current_size: 0 }, now),
      canceled: (trx, job, now) => settle(trx, job, { status: 'deleted', status_reason: 'Creation was canceled.', current_size: 0, deleted_at: now }, now),
    },

    'node_pool.resize': {
      operation: async (db, job) => {
        const { min_size: minSize, max_size: maxSize, desired_size: desiredSize } = job.input;
        return { kind: 'node_pool.resize', ...(await poolOperationBase(db, job)), to: { minSize, maxSize, desiredSize } };
      },
      succeeded: async (trx, job, now) => {
        const { min_size, max_size, desired_size } = job.input;
        const sizes = { min_size: Number(min_size), max_size: Number(max_size), desired_size: Number(desired_size) };
        await settle(trx, job, { status: 'running', status_reason: null, ...sizes, current_size: sizes.desired_size }, now);
        await startUsage(trx, { accountId: job.account_id, resourceType: 'node_pool', resourceId: job.resource_id, quantity: sizes.desired_size }, now);
      },
      // The node group keeps its old sizes when a resize does not go through.
      failed: (trx, job, reason, now) => settle(trx, job, { status: 'running', status_reason: `Resize failed: ${reason}` }, now),
      canceled: (trx, job, now) => settle(trx, job, { status: 'running', status_reason: job.started_at === null ? null : 'Resize was canceled; sizes are unchanged.' }, now),
    },

    'node_pool.delete': {
      operation: async (db, job) => ({ kind: 'node_pool.delete', ...(await poolOperationBase(db, job)) }),
      succeeded: async (trx, job, now) => {
        await settle(trx, job, { status: 'deleted', status_reason: null, current_size: 0, deleted_at: now }, now);
        await stopUsage(trx, job.resource_id, now);
      },
      failed: (trx, job, reason, now) => settle(trx, job, { status: 'failed', status_reason: `Removal failed: ${reason}` }, now),
      canceled: (trx, job, now) =>
        job.started_at === null
          ? settle(trx, job, { status: job.input.previous_status }, now)
          : settle(trx, job, { status: 'failed', status_reason: 'Removal was canceled part-way; remove it again.' }, now),
    },
  };
}
