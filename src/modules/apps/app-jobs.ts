import type { Db } from '../../db/database.js';
import { loadClusterSpec } from '../clusters/cluster-repo.js';
import { settleDeploy } from '../deploys/deploy-repo.js';
import type { Job, JobHandlers } from '../jobs/job-types.js';
import { getAppById, releaseApp, toAppSpec } from './app-repo.js';

/** A job canceled while still queued changed nothing: its app goes back to where it was. */
const neverStarted = (job: Job) => job.started_at === null;

/** The status (and its reason) the app had before the job claimed it. */
const previous = (job: Job<'app.deploy' | 'app.restart' | 'app.delete'>) => ({
  status: job.input.previous_status,
  status_reason: job.input.previous_status_reason,
});

async function appOperationBase(db: Db, job: Job) {
  const app = await getAppById(db, job.resource_id);
  return { cluster: await loadClusterSpec(db, app.cluster_id), app: toAppSpec(app) };
}

/** How each app job changes its app (and deploy) when it ends, inside the job's finishing transaction. */
export function appJobHandlers(): Pick<Required<JobHandlers>, 'app.deploy' | 'app.restart' | 'app.delete'> {
  return {
    'app.deploy': {
      operation: async (db, job) => {
        const { deploy_id: deployId, image } = job.input;
        // The runner calls this right after claiming the job, and job.updated_at is that claim: the
        // one moment the rollout is known to have started (JobHandler has no "started" hook).
        await settleDeploy(db, deployId, { status: 'in_progress' }, job.updated_at);
        return { kind: 'app.deploy', ...(await appOperationBase(db, job)), image };
      },
      succeeded: async (trx, job, now) => {
        const { deploy_id: deployId, image } = job.input;
        await settleDeploy(trx, deployId, { status: 'succeeded', error_message: null, finished_at: now }, now);
        await releaseApp(trx, job.resource_id, job.id, { status: 'running', status_reason: null, image, current_deploy_id: deployId }, now);
      },
      // A failed rollout leaves the previous release serving (the rollout never replaced its pods),
      // and the app says which deploy failed, why, and what still serves.
      failed: async (trx, job, reason, now) => {
        const { deploy_id: deployId, image } = job.input;
        const app = await getAppById(trx, job.resource_id);
        await settleDeploy(trx, deployId, { status: 'failed', error_message: reason, finished_at: now }, now);
        const failure = `Deploy ${deployId} of ${image} failed (${reason})`;
        await releaseApp(
          trx,
          app.id,
          job.id,
          app.image !== null
            ? { status: 'running', status_reason: `${failure}; ${app.image} is still serving.` }
            : { status: 'failed', status_reason: `${failure}; no earlier release was serving. Deploy a working image.` },
          now,
        );
      },
      canceled: async (trx, job, now) => {
        const { deploy_id: deployId, image } = job.input;
        const app = await getAppById(trx, job.resource_id);
        const before = previous(job);
        await settleDeploy(
          trx,
          deployId,
          {
            status: 'canceled',
            error_message: neverStarted(job) ? 'Canceled before it started.' : 'Canceled during the rollout; its completed steps were rolled back.',
            finished_at: now,
          },
          now,
        );
        const serving = app.image !== null ? ` ${app.image} is still serving.` : '';
        await releaseApp(
          trx,
          app.id,
          job.id,
          neverStarted(job) ? before : { status: before.status, status_reason: `Deploy ${deployId} of ${image} was canceled and rolled back.${serving}` },
          now,
        );
      },
    },

    'app.restart': {
      operation: async (db, job) => ({ kind: 'app.restart', ...(await appOperationBase(db, job)) }),
      succeeded: (trx, job, now) => releaseApp(trx, job.resource_id, job.id, { status: 'running', status_reason: null }, now),
      // A rolling restart replaces pods only once their successors are ready: on failure the old ones still serve.
      failed: (trx, job, reason, now) =>
        releaseApp(trx, job.resource_id, job.id, { status: 'running', status_reason: `Restart failed (${reason}); the pods that were serving keep serving.` }, now),
      canceled: (trx, job, now) =>
        releaseApp(
          trx,
          job.resource_id,
          job.id,
          neverStarted(job) ? previous(job) : { status: 'running', status_reason: 'Restart was canceled part-way; pods not yet restarted keep running as they were.' },
          now,
        ),
    },

    'app.delete': {
      operation: async (db, job) => ({ kind: 'app.delete', ...(await appOperationBase(db, job)) }),
      succeeded: (trx, job, now) => releaseApp(trx, job.resource_id, job.id, { status: 'deleted', status_reason: null, deleted_at: now }, now),
      failed: (trx, job, reason, now) =>
        releaseApp(trx, job.resource_id, job.id, { status: 'failed', status_reason: `Delete failed (${reason}); delete it again to finish.` }, now),
      canceled: (trx, job, now) =>
        releaseApp(
          trx,
          job.resource_id,
          job.id,
          neverStarted(job) ? previous(job) : { status: 'failed', status_reason: 'Delete was canceled part-way; delete it again to remove what is left.' },
          now,
        ),
    },
  };
}
