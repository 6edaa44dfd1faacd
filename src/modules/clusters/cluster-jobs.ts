import type { Db } from '../../db/database.js';
import { startUsage, stopClusterUsage, stopUsage } from '../billing/usage-repo.js';
import { stepStatus } from '../jobs/job-repo.js';
import type { Job, JobHandlers } from '../jobs/job-types.js';
import { deleteLivePools, restorePoolStatuses } from '../node-pools/node-pool-repo.js';
import { loadClusterSpec, releaseCluster } from './cluster-repo.js';

/** A job canceled while still queued changed nothing: its resource goes back to where it was. */
const neverStarted = (job: Job) => job.started_at === null;

/** After a destroy stopped part-way: pools its delete-node-pools step removed are gone; the others are as before. */
async function settlePoolsAfterPartialDestroy(trx: Db, job: Job<'cluster.destroy'>, now: string): Promise<void> {
  if ((await stepStatus(trx, job.id, 'delete-node-pools')) === 'succeeded') {
    for (const poolId of await deleteLivePools(trx, job.resource_id, now)) await stopUsage(trx, poolId, now);
    return;
  }
  await restorePoolStatuses(trx, job.input.pool_statuses, now);
}

/** How each cluster job changes its cluster when it ends (inside the job's finishing transaction). */
export function clusterJobHandlers(): Pick<Required<JobHandlers>, 'cluster.create' | 'cluster.upgrade' | 'cluster.destroy'> {
  return {
    'cluster.create': {
      operation: async (db, job) => ({ kind: 'cluster.create', cluster: await loadClusterSpec(db, job.resource_id) }),
      succeeded: async (trx, job, now) => {
        await releaseCluster(trx, job.resource_id, job.id, { status: 'running', status_reason: null, endpoint: job.outputs.endpoint ?? null }, now);
        await startUsage(trx, { accountId: job.account_id, resourceType: 'cluster', resourceId: job.resource_id, quantity: 1 }, now);
      },
      failed: (trx, job, reason, now) => releaseCluster(trx, job.resource_id, job.id, { status: 'failed', status_reason: reason }, now),
      // What the canceled steps created has been rolled back; the cluster never came to exist.
      canceled: (trx, job, now) =>
        releaseCluster(trx, job.resource_id, job.id, { status: 'deleted', status_reason: 'Creation was canceled.', endpoint: null, deleted_at: now }, now),
    },

    'cluster.upgrade': {
      operation: async (db, job) => ({ kind: 'cluster.upgrade', cluster: await loadClusterSpec(db, job.resource_id), toVersion: job.input.kubernetes_version }),
      succeeded: (trx, job, now) =>
        releaseCluster(trx, job.resource_id, job.id, { status: 'running', status_reason: null, kubernetes_version: job.input.kubernetes_version }, now),
      // A failed upgrade rolls back: the cluster keeps serving on its old version, and says why.
      failed: (trx, job, reason, now) =>
        releaseCluster(trx, job.resource_id, job.id, { status: 'running', status_reason: `Upgrade to ${job.input.kubernetes_version} failed: ${reason}` }, now),
      canceled: (trx, job, now) =>
        releaseCluster(trx, job.resource_id, job.id, {
          status: 'running',
          status_reason: neverStarted(job) ? null : `Upgrade to ${job.input.kubernetes_version} was canceled; the cluster stays on its version.`,
        }, now),
    },

    'cluster.destroy': {
      operation: async (db, job) => ({ kind: 'cluster.destroy', cluster: await loadClusterSpec(db, job.resource_id) }),
      succeeded: async (trx, job, now) => {
        await deleteLivePools(trx, job.resource_id, now);
        await releaseCluster(trx, job.resource_id, job.id, { status: 'deleted', status_reason: null, endpoint: null, deleted_at: now }, now);
        await stopClusterUsage(trx, job.resource_id, now);
      },
      failed: async (trx, job, reason, now) => {
        await settlePoolsAfterPartialDestroy(trx, job, now);
        await releaseCluster(trx, job.resource_id, job.id, { status: 'failed', status_reason: `Destroy failed: ${reason} Destroy it again to finish.` }, now);
      },
      canceled: async (trx, job, now) => {
        if (neverStarted(job)) {
          await restorePoolStatuses(trx, job.input.pool_statuses, now);
          await releaseCluster(trx, job.resource_id, job.id, { status: job.input.previous_status }, now);
          return;
        }
        await settlePoolsAfterPartialDestroy(trx, job, now);
        await releaseCluster(trx, job.resource_id, job.id, { status: 'failed', status_reason: 'Destroy was canceled part-way; destroy it again to remove what is left.' }, now);
      },
    },
  };
}
