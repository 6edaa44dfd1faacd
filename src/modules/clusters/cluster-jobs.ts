import type { Db } from '../../db/database.js';
import type { JobHandler, JobRow } from '../jobs/job-types.js';
import { parseParams } from '../jobs/job-types.js';
import { startUsage, stopClusterUsage, stopUsage } from '../billing/usage-recorder.js';
import { loadClusterSpec, releaseCluster } from './cluster-repo.js';

/** A job canceled while still queued changed nothing: its resource goes back to where it was. */
const neverStarted = (job: JobRow) => job.started_at === null;
const previousStatus = (job: JobRow) => String(parseParams(job).input.previous_status ?? 'running');

/** Puts the pools a destroy marked 'deleting' back to the statuses they had before it. */
async function restorePools(trx: Db, job: JobRow, now: string): Promise<void> {
  const statuses = (parseParams(job).input.pool_statuses ?? {}) as Record<string, string>;
  for (const [poolId, status] of Object.entries(statuses)) {
    await trx.updateTable('node_pools').set({ status, updated_at: now }).where('id', '=', poolId).where('status', '=', 'deleting').execute();
  }
}

/** After a destroy stopped part-way: pools its delete-node-pools step removed are gone; the others are as before. */
async function settlePoolsAfterPartialDestroy(trx: Db, job: JobRow, now: string): Promise<void> {
  const removed = await trx
    .selectFrom('job_steps')
    .select('status')
    .where('job_id', '=', job.id)
    .where('name', '=', 'delete-node-pools')
    .executeTakeFirst();
  if (removed?.status === 'succeeded') {
    const pools = await trx.selectFrom('node_pools').select('id').where('cluster_id', '=', job.resource_id).where('deleted_at', 'is', null).execute();
    await trx.updateTable('node_pools').set({ status: 'deleted', current_size: 0, deleted_at: now, updated_at: now }).where('cluster_id', '=', job.resource_id).where('deleted_at', 'is', null).execute();
    for (const pool of pools) await stopUsage(trx, pool.id, now);
    return;
  }
  await restorePools(trx, job, now);
}

/** How each cluster job changes its cluster when it ends (inside the job's finishing transaction). */
export function clusterJobHandlers(): Record<'cluster.create' | 'cluster.upgrade' | 'cluster.destroy', JobHandler> {
  return {
    'cluster.create': {
      operation: async (db, job) => ({ kind: 'cluster.create', cluster: await loadClusterSpec(db, job.resource_id) }),
      succeeded: async (trx, job, outputs, now) => {
        await releaseCluster(trx, job.resource_id, job.id, { status: 'running', status_reason: null, endpoint: outputs.endpoint ?? null }, now);
        await startUsage(trx, { accountId: job.account_id, resourceType: 'cluster', resourceId: job.resource_id, quantity: 1 }, now);
      },
      failed: (trx, job, reason, now) => releaseCluster(trx, job.resource_id, job.id, { status: 'failed', status_reason: reason }, now),
      // What the canceled steps created has been rolled back; the cluster never came to exist.
      canceled: (trx, job, now) =>
        releaseCluster(trx, job.resource_id, job.id, { status: 'deleted', status_reason: 'Creation was canceled.', endpoint: null, deleted_at: now }, now),
    },

    'cluster.upgrade': {
      operation: async (db, job) => ({
        kind: 'cluster.upgrade',
        cluster: await loadClusterSpec(db, job.resource_id),
        toVersion: String(parseParams(job).input.kubernetes_version),
      }),
      succeeded: (trx, job, _outputs, now) =>
        releaseCluster(trx, job.resource_id, job.id, { status: 'running', status_reason: null, kubernetes_version: String(parseParams(job).input.kubernetes_version) }, now),
      // A failed upgrade rolls back: the cluster keeps serving on its old version, and says why.
      failed: (trx, job, reason, now) =>
        releaseCluster(trx, job.resource_id, job.id, { status: 'running', status_reason: `Upgrade to ${String(parseParams(job).input.kubernetes_version)} failed: ${reason}` }, now),
      canceled: (trx, job, now) =>
        releaseCluster(trx, job.resource_id, job.id, {
          status: 'running',
          status_reason: neverStarted(job) ? null : `Upgrade to ${String(parseParams(job).input.kubernetes_version)} was canceled; the cluster stays on its version.`,
        }, now),
    },

    'cluster.destroy': {
      operation: async (db, job) => ({ kind: 'cluster.destroy', cluster: await loadClusterSpec(db, job.resource_id) }),
      succeeded: async (trx, job, _outputs, now) => {
        await trx.updateTable('node_pools').set({ status: 'deleted', current_size: 0, deleted_at: now, updated_at: now }).where('cluster_id', '=', job.resource_id).where('deleted_at', 'is', null).execute();
        await releaseCluster(trx, job.resource_id, job.id, { status: 'deleted', status_reason: null, endpoint: null, deleted_at: now }, now);
        await stopClusterUsage(trx, job.resource_id, now);
      },
      failed: async (trx, job, reason, now) => {
        await settlePoolsAfterPartialDestroy(trx, job, now);
        await releaseCluster(trx, job.resource_id, job.id, { status: 'failed', status_reason: `Destroy failed: ${reason} Destroy it again to finish.` }, now);
      },
      canceled: async (trx, job, now) => {
        if (neverStarted(job)) {
          await restorePools(trx, job, now);
          await releaseCluster(trx, job.resource_id, job.id, { status: previousStatus(job) }, now);
          return;
        }
        await settlePoolsAfterPartialDestroy(trx, job, now);
        await releaseCluster(trx, job.resource_id, job.id, { status: 'failed', status_reason: 'Destroy was canceled part-way; destroy it again to remove what is left.' }, now);
      },
    },
  };
}
