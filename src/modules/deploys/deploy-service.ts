import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import { isTransientConflict, type Db } from '../../db/database.js';
import { conflict, notFound, validationFailed } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { InfraDriver } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { imageSourceProblem, type ImageSourcePolicy } from '../../lib/image-policy.js';
import { fenceOf } from '../../auth/principal.js';
import { parseImageReference } from '../../lib/image-reference.js';
import { createAppRepo, GONE, toAppSpec, type AppRow, type AppStatus } from '../apps/app-repo.js';
import { loadClusterSpec } from '../clusters/cluster-repo.js';
import { createJobRepo } from '../jobs/job-repo.js';
import type { EventLog } from '../events/event-log.js';
import type { Actor } from '../events/event-types.js';
import { createJobStarter, type JobPlan } from '../jobs/job-starter.js';
import { toJob } from '../jobs/job-types.js';
import { createDeployRepo, settleDeploy, type DeployRepo, type DeployRow } from './deploy-repo.js';

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

/**
 * The full OCI check the schema cannot express, and where the image may come from (lib/image-policy.ts);
 * a 400 naming `image` otherwise.
 */
export function checkImage(image: string, policy: ImageSourcePolicy, path = 'image'): string {
  const parsed = parseImageReference(image);
  if (!parsed.ok) throw validationFailed([{ path, message: parsed.problem }]);
  const problem = imageSourceProblem(parsed.reference, policy);
  if (problem !== null) throw validationFailed([{ path, message: problem }]);
  return image;
}

/** Statuses a deploy may start from: anything but on the way out (a failed app is fixed by deploying). */
const DEPLOYABLE: readonly AppStatus[] = ['pending', 'deploying', 'running', 'restarting', 'failed'];

export interface DeployRequest {
  principal: Principal;
  /** The app as it was before this request claimed it. */
  app: AppRow;
  image: string;
  /** From nextDeployId. */
  deployId: string;
  /** The rollout job that will carry the deploy (claimed the app, or is about to). */
  job: { id: string; now: string };
  steps: readonly string[];
  /** Where a cancel puts the app back; carried over from a superseded deploy so the chain unwinds to its start. */
  previous: { status: string; status_reason: string | null };
}

/**
 * A deploy id newer than every earlier deploy of the app, even within one millisecond, so the history
 * (ordered by id) is exactly the order the deploys were requested in.
 */
async function nextDeployId(trx: Db, deploys: DeployRepo, appId: string, now: string): Promise<string> {
  const latest = await deploys.latestId(trx, appId);
  let ms = Date.parse(now);
  let id = newId('deploy', ms);
  while (latest !== null && id <= latest) id = newId('deploy', ++ms);
  return id;
}

/**
 * Inserts the deploy and returns the plan of the rollout job that carries it. Runs inside that job's
 * claim (the caller holds the app).
 */
export async function planDeploy(trx: Db, deploys: DeployRepo, request: DeployRequest): Promise<JobPlan<'app.deploy'>> {
  await deploys.insert(trx, {
    id: request.deployId,
    account_id: request.principal.accountId,
    app_id: request.app.id,
    image: request.image,
    status: 'queued',
    job_id: request.job.id,
    previous_image: request.app.image,
    error_message: null,
    created_by: principalId(request.principal),
    created_at: request.job.now,
    updated_at: request.job.now,
    finished_at: null,
  });
  return {
    input: {
      deploy_id: request.deployId,
      image: request.image,
      previous_status: request.previous.status,
      previous_status_reason: request.previous.status_reason,
    },
    steps: request.steps,
  };
}

/** How many times a deploy is tried when the app keeps changing under it (or the database breaks a lock cycle). */
const MAX_ATTEMPTS = 3;

export function createDeployService(deps: { db: Db; clock: Clock; driver: InfraDriver; registryService: string; events: Pick<EventLog, 'record'> }) {
  const { db, clock, driver, registryService } = deps;
  const apps = createAppRepo(db);
  const deploys = createDeployRepo(db);
  const jobs = createJobRepo(db);
  const startJob = createJobStarter({ db, clock, events: deps.events });

  async function mustGetApp(accountId: string, id: string): Promise<AppRow> {
    const app = await apps.get(accountId, id);
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
   * image rolls out). Null: the app changed under a stale read, or the database broke a lock cycle; try again.
   */
  async function attempt(principal: Principal, actor: Actor, app: Pick<AppRow, 'id' | 'cluster_id'>, image: string, steps: readonly string[]) {
    let deployId = '';
    const work = startJob({
      type: 'app.deploy',
      principal,
      resource: { type: 'app', id: app.id },
      clusterId: app.cluster_id,
      // Called after the claim, which named the deploy.
      events: (job) => [{ type: 'deploy.created', actor, subject: { type: 'deploy', id: deployId }, data: { app_id: app.id, image, job_id: job.id } }],
      async claim(trx, job) {
        if (!(await apps.lock(trx, principal.accountId, app.id))) throw notFound('app', app.id);
        const locked = await apps.get(principal.accountId, app.id, trx);
        if (!locked) throw notFound('app', app.id);
        if (GONE.includes(locked.status as AppStatus)) throw goneConflict(locked);
        deployId = await nextDeployId(trx, deploys, locked.id, job.now);
        let previous = { status: locked.status, status_reason: locked.status_reason };

        if (locked.active_job_id === null) {
          const claimed = await apps.claimForJob(trx, principal.accountId, locked.id, job.id, DEPLOYABLE, { status: 'deploying', status_reason: null, updated_at: job.now });
          if (!claimed) return null;
        } else {
          const row = await jobs.getById(trx, locked.active_job_id);
          const active = row === undefined ? null : toJob(row);
          // A job ends in the same transaction that lets go of the app, so this is only a stale read: read again.
          if (active === null || (active.status !== 'queued' && active.status !== 'running')) return null;
          if (active.type !== 'app.deploy' || active.status !== 'queued') throw busyConflict(locked, active);
          if (!(await apps.handOver(trx, principal.accountId, locked.id, active.id, job.id, job.now))) return null;
          // queued → canceled is conditional too: if the runner has just taken the job, it runs and we refuse.
          if (!(await jobs.cancelQueued(trx, active.id, job.now, `Superseded by deploy ${deployId} before it started.`))) {
            throw busyConflict(locked, { ...active, status: 'running' });
          }
          await settleDeploy(trx, active.input.deploy_id, { status: 'superseded', error_message: `Superseded by deploy ${deployId}.`, finished_at: job.now }, job.now);
          previous = { status: active.input.previous_status, status_reason: active.input.previous_status_reason };
        }
        return planDeploy(trx, deploys, { principal, app: locked, image, deployId, job, steps, previous });
      },
      readBack: async (trx) => {
        const deploy = await deploys.get(principal.accountId, app.id, deployId, trx);
        if (!deploy) throw new Error(`deploy ${deployId} is missing from its own transaction`);
        return deploy;
      },
    });
    return work.catch((error: unknown) => {
      if (isTransientConflict(error)) return null;
      throw error;
    });
  }

  return {
    async deploy(principal: Principal, actor: Actor, appId: string, image: string) {
      checkImage(image, { registryService, accountId: principal.accountId });
      const app = await mustGetApp(principal.accountId, appId);
      // A fenced key deploys from our registry only its app's own repository (not that of an app it cannot see).
      if (fenceOf(principal) !== null) checkImage(image, { registryService, accountId: principal.accountId, ownApp: app.name });
      if (GONE.includes(app.status as AppStatus)) throw goneConflict(app);
      const cluster = await loadClusterSpec(db, app.cluster_id);
      const steps = driver.steps({ kind: 'app.deploy', cluster, app: toAppSpec(app), image });
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const started = await attempt(principal, actor, app, image, steps);
        if (started !== null) return { deploy: presentDeploy(started.resource), job: started.job };
      }
      throw conflict(`App ${appId} kept changing while this deploy was being queued; send it again.`);
    },

    async list(accountId: string, appId: string, query: { limit?: number; cursor?: string }) {
      const page = pageRequest(query);
      await mustGetApp(accountId, appId);
      return toPage(await deploys.list(accountId, appId, page), page, presentDeploy);
    },

    async get(accountId: string, appId: string, deployId: string) {
      await mustGetApp(accountId, appId);
      const deploy = await deploys.get(accountId, appId, deployId);
      if (!deploy) throw notFound('deploy', deployId);
      return presentDeploy(deploy);
    },
  };
}
