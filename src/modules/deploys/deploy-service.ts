import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import type { Db } from '../../db/database.js';
import { conflict, notFound, validationFailed } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { InfraDriver } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { parseImageReference } from '../../lib/image-reference.js';
import { createAppRepo, GONE, isTransientConflict, settleDeploy, toAppSpec, type AppRepo, type AppRow, type AppStatus, type DeployRow } from '../apps/app-repo.js';
import { loadClusterSpec } from '../clusters/cluster-repo.js';
import { createJobRepo, enqueueJob } from '../jobs/job-repo.js';
import { presentJob } from '../jobs/job-service.js';
import { parseParams, type JobRow } from '../jobs/job-types.js';

export function presentDeploy(row: DeployRow) {
  return {
    id: row.id,
    app_id: row.app_id,
    image: row.image,
    status: row.status,
    job_id: row.job_id,
    previous_image: row.previous_image,
    error: row.error_message,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
    finished_at: row.finished_at,
  };
}

/** The full OCI check the schema cannot express; a 400 naming `image` otherwise. */
export function checkImage(image: string, path = 'image'): string {
  const parsed = parseImageReference(image);
  if (!parsed.ok) throw validationFailed([{ path, message: parsed.problem }]);
  return image;
}

/** Statuses a deploy may start from: anything but on the way out (a failed app is fixed by deploying). */
const DEPLOYABLE: readonly AppStatus[] = ['pending', 'deploying', 'running', 'restarting', 'failed'];

export interface QueueDeploy {
  principal: Principal;
  /** The app as it was before this request claimed it. */
  app: AppRow;
  image: string;
  deployId: string;
  jobId: string;
  steps: string[];
  now: string;
  /** Where a cancel puts the app back; carried over from a superseded deploy so the chain unwinds to its start. */
  previous: { status: string; status_reason: string | null };
}

/**
 * A deploy id newer than every earlier deploy of the app, even within one millisecond, so the history
 * (ordered by id) is exactly the order the deploys were requested in.
 */
async function nextDeployId(trx: Db, repo: AppRepo, appId: string, now: string): Promise<string> {
  const latest = await repo.latestDeployId(trx, appId);
  let ms = Date.parse(now);
  let id = newId('deploy', ms);
  while (latest !== null && id <= latest) id = newId('deploy', ++ms);
  return id;
}

/** Inserts the deploy and its rollout job in the caller's transaction; the caller has already claimed the app for the job. */
export async function queueDeploy(trx: Db, repo: AppRepo, request: QueueDeploy): Promise<{ deploy: DeployRow; job: JobRow }> {
  const deploy: DeployRow = {
    id: request.deployId,
    account_id: request.principal.accountId,
    app_id: request.app.id,
    image: request.image,
    status: 'queued',
    job_id: request.jobId,
    previous_image: request.app.image,
    error_message: null,
    created_by: principalId(request.principal),
    created_at: request.now,
    updated_at: request.now,
    finished_at: null,
  };
  await repo.insertDeploy(trx, deploy);
  const job = await enqueueJob(trx, {
    id: request.jobId,
    accountId: request.principal.accountId,
    type: 'app.deploy',
    resourceType: 'app',
    resourceId: request.app.id,
    clusterId: request.app.cluster_id,
    input: {
      deploy_id: deploy.id,
      image: request.image,
      previous_status: request.previous.status,
      previous_status_reason: request.previous.status_reason,
    },
    createdBy: deploy.created_by,
    steps: request.steps,
    now: request.now,
  });
  return { deploy, job };
}

/** The database broke a lock cycle, or the app changed under a stale read: read again and decide again. */
const RETRY = Symbol('retry');
const MAX_ATTEMPTS = 3;

export function createDeployService(deps: { db: Db; clock: Clock; driver: InfraDriver }) {
  const { db, clock, driver } = deps;
  const repo = createAppRepo(db);
  const jobs = createJobRepo(db);

  async function mustGetApp(accountId: string, id: string): Promise<AppRow> {
    const app = await repo.get(accountId, id);
    if (!app) throw notFound('app', id);
    return app;
  }

  const goneConflict = (app: AppRow) => conflict(`App ${app.id} is ${app.status}; it can no longer be deployed.`, { app_status: app.status });

  const busyConflict = (app: AppRow, job: { id: string; type: string; status: string }) =>
    conflict(`App ${app.id} is busy with job ${job.id} (${job.type}, ${job.status}); wait for it to finish or cancel it before you deploy.`, {
      active_job_id: job.id,
    });

  /**
   * One attempt, in one transaction holding the app's row lock: claim a free app, or take it over from
   * a deploy that is still queued (that deploy is superseded and its job canceled, so only the newest
   * image rolls out).
   */
  async function attempt(principal: Principal, appId: string, image: string, steps: string[]) {
    const now = clock.now().toISOString();
    const jobId = newId('job', Date.parse(now));
    const work = db.transaction().execute(async (trx) => {
      if (!(await repo.lock(trx, principal.accountId, appId))) throw notFound('app', appId);
      const app = await repo.get(principal.accountId, appId, trx);
      if (!app) throw notFound('app', appId);
      if (GONE.includes(app.status as AppStatus)) throw goneConflict(app);
      const deployId = await nextDeployId(trx, repo, app.id, now);
      let previous = { status: app.status, status_reason: app.status_reason };

      if (app.active_job_id === null) {
        const claimed = await repo.claimForJob(trx, principal.accountId, app.id, jobId, DEPLOYABLE, {
          status: 'deploying',
          status_reason: null,
          updated_at: now,
        });
        if (!claimed) return RETRY;
      } else {
        const active = await repo.jobOf(trx, app.active_job_id);
        // A job ends in the same transaction that lets go of the app, so this is only a stale read: read again.
        if (!active || (active.status !== 'queued' && active.status !== 'running')) return RETRY;
        if (active.type !== 'app.deploy' || active.status !== 'queued') throw busyConflict(app, active);
        if (!(await repo.handOver(trx, principal.accountId, app.id, active.id, jobId, now))) return RETRY;
        // queued → canceled is conditional too: if the runner has just taken the job, it runs and we refuse.
        if (!(await jobs.cancelQueued(trx, active.id, now))) throw busyConflict(app, { ...active, status: 'running' });
        await repo.noteSuperseded(trx, active.id, deployId);
        const input = parseParams(active).input;
        await settleDeploy(trx, String(input.deploy_id), { status: 'superseded', error_message: `Superseded by deploy ${deployId}.`, finished_at: now }, now);
        previous = {
          status: String(input.previous_status ?? app.status),
          status_reason: typeof input.previous_status_reason === 'string' ? input.previous_status_reason : null,
        };
      }
      return queueDeploy(trx, repo, { principal, app, image, deployId, jobId, steps, now, previous });
    });
    return work.catch((error: unknown): typeof RETRY => {
      if (isTransientConflict(error)) return RETRY;
      throw error;
    });
  }

  return {
    async deploy(principal: Principal, appId: string, image: string) {
      checkImage(image);
      const app = await mustGetApp(principal.accountId, appId);
      if (GONE.includes(app.status as AppStatus)) throw goneConflict(app);
      const cluster = await loadClusterSpec(db, app.cluster_id);
      const steps = driver.steps({ kind: 'app.deploy', cluster, app: toAppSpec(app), image });
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const result = await attempt(principal, appId, image, steps);
        if (result === RETRY) continue;
        return { deploy: presentDeploy(result.deploy), job: presentJob(result.job, await jobs.stepsOf([result.job.id])) };
      }
      throw conflict(`App ${appId} kept changing while this deploy was being queued; send it again.`);
    },

    async list(accountId: string, appId: string, query: { limit?: number; cursor?: string }) {
      const page = pageRequest(query);
      await mustGetApp(accountId, appId);
      return toPage(await repo.listDeploys(accountId, appId, page), page, presentDeploy);
    },

    async get(accountId: string, appId: string, deployId: string) {
      await mustGetApp(accountId, appId);
      const deploy = await repo.getDeploy(accountId, appId, deployId);
      if (!deploy) throw notFound('deploy', deployId);
      return presentDeploy(deploy);
    },
  };
}
