import type { ResourceFence } from '../../auth/resource-fence.js';
import { fenceOf } from '../../auth/principal.js';
import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import { isUniqueViolation, type Db } from '../../db/database.js';
import { conflict, notFound, validationFailed, type AppError } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { HealthCheck, InfraDriver } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { createClusterRepo, loadClusterSpec } from '../clusters/cluster-repo.js';
import { createDeployRepo } from '../deploys/deploy-repo.js';
import { checkImage, planDeploy } from '../deploys/deploy-service.js';
import { createJobRepo } from '../jobs/job-repo.js';
import type { EventLog } from '../events/event-log.js';
import type { Actor, EventInput } from '../events/event-types.js';
import { createJobStarter, type JobRequest, type StartedJob } from '../jobs/job-starter.js';
import { createAppRepo, GONE, parseConfig, toAppSpec, type AppConfig, type AppFilter, type AppRow, type AppStatus, type AppType } from './app-repo.js';

export function presentApp(row: AppRow) {
  return {
    id: row.id,
    cluster_id: row.cluster_id,
    name: row.name,
    type: row.type,
    image: row.image,
    status: row.status,
    status_reason: row.status_reason,
    config: parseConfig(row),
    current_deploy_id: row.current_deploy_id,
    active_job_id: row.active_job_id,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
    deleted_at: row.deleted_at,
  };
}

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown';

/** One failing check makes the app unhealthy; a warning degraded; only all passing is healthy. */
export function overallHealth(checks: readonly Pick<HealthCheck, 'status'>[]): HealthStatus {
  if (checks.some((check) => check.status === 'fail')) return 'unhealthy';
  if (checks.some((check) => check.status === 'warn')) return 'degraded';
  if (checks.length > 0 && checks.every((check) => check.status === 'pass')) return 'healthy';
  return 'unknown';
}

/** A cluster that does not answer must not hold the request (and a socket) until the client gives up. */
const HEALTH_TIMEOUT_MS = 5_000;
const DEFAULT_SERVICE_PORT = 8080;

const portOnAirflow = () => validationFailed([{ path: 'config.port', message: 'applies to service apps only' }]);

export function createAppService(deps: { db: Db; clock: Clock; driver: InfraDriver; registryService: string; events: Pick<EventLog, 'record'> }) {
  const { db, clock, driver, registryService } = deps;
  const repo = createAppRepo(db);
  const clusters = createClusterRepo(db);
  const deploys = createDeployRepo(db);
  const jobs = createJobRepo(db);
  const startJob = createJobStarter({ db, clock, events: deps.events });

  async function mustGet(accountId: string, id: string, q: Db = db): Promise<AppRow> {
    const row = await repo.get(accountId, id, q);
    if (!row) throw notFound('app', id);
    return row;
  }

  /** Why an operation cannot start on this app now, naming the job in the way. */
  async function busyConflict(app: AppRow, verb: string, allowed: readonly AppStatus[]): Promise<AppError> {
    if (app.active_job_id !== null) {
      const job = await jobs.get(app.account_id, app.active_job_id);
      const what = job ? ` (${job.type}, ${job.status})` : '';
      return conflict(`App ${app.id} is busy with job ${app.active_job_id}${what}; wait for it to finish or cancel it before you ${verb} it.`, {
        active_job_id: app.active_job_id,
      });
    }
    return conflict(`App ${app.id} is ${app.status}; to ${verb} it, it must be ${allowed.join(' or ')}.`, { app_status: app.status });
  }

  /** The 202 body: the app as its job holds it, and the job. */
  const accepted = ({ resource, job }: StartedJob<AppRow>) => ({ app: presentApp(resource), job });

  /** Claims the app and queues its job in one transaction; 409 when another job or its status is in the way. */
  async function startAppJob(
    principal: Principal,
    app: AppRow,
    job: { type: 'app.restart' | 'app.delete'; allowed: readonly AppStatus[]; status: AppStatus; verb: string },
    events?: JobRequest<'app.restart' | 'app.delete', AppRow>['events'],
  ) {
    const { type, allowed, status, verb } = job;
    const steps = driver.steps({ kind: type, cluster: await loadClusterSpec(db, app.cluster_id), app: toAppSpec(app) });
    const started = await startJob({
      type,
      principal,
      events,
      resource: { type: 'app', id: app.id },
      clusterId: app.cluster_id,
      claim: async (trx, job) => {
        if (!(await repo.claimForJob(trx, principal.accountId, app.id, job.id, allowed, { status, status_reason: null, updated_at: job.now }))) return null;
        return { input: { previous_status: app.status, previous_status_reason: app.status_reason }, steps };
      },
      readBack: (trx) => mustGet(principal.accountId, app.id, trx),
    });
    if (started === null) throw await busyConflict(await mustGet(principal.accountId, app.id), verb, allowed);
    return accepted(started);
  }

  return {
    async create(
      principal: Principal,
      actor: Actor,
      input: { name: string; cluster_id: string; type: AppType; image?: string; config?: { replicas?: number; port?: number } },
    ) {
      // A fenced key starts a new app only from that app's own repository on our registry (or elsewhere).
      const ownApp = fenceOf(principal) === null ? undefined : input.name;
      if (input.image !== undefined) checkImage(input.image, { registryService, accountId: principal.accountId, ownApp });
      if (input.type === 'airflow' && input.config?.port !== undefined) throw portOnAirflow();
      const cluster = await clusters.get(principal.accountId, input.cluster_id);
      if (!cluster) throw notFound('cluster', input.cluster_id);

      const now = clock.now().toISOString();
      const config: AppConfig = { replicas: input.config?.replicas ?? 1 };
      if (input.type === 'service') config.port = input.config?.port ?? DEFAULT_SERVICE_PORT;
      const row: AppRow = {
        id: newId('app', Date.parse(now)),
        account_id: principal.accountId,
        cluster_id: cluster.id,
        name: input.name,
        type: input.type,
        image: null,
        status: 'pending',
        status_reason: null,
        config: JSON.stringify(config),
        current_deploy_id: null,
        active_job_id: null,
        created_by: principalId(principal),
        created_at: now,
        updated_at: now,
        deleted_at: null,
      };
      // Created on a running cluster that no job holds: the lock makes a concurrent destroy wait, and
      // count this app once it has.
      const lockCluster = (trx: Db) => clusters.lockRunning(trx, principal.accountId, cluster.id, { idle: true });
      const appCreated = (jobId: string | null): Omit<EventInput, 'accountId'> => ({
        type: 'app.created',
        actor,
        subject: { type: 'app', id: row.id },
        data: { name: row.name, cluster_id: cluster.id, type: row.type, job_id: jobId },
      });
      let created: AppRow | null;
      try {
        if (input.image === undefined) {
          created = await db.transaction().execute(async (trx) => {
            if (!(await lockCluster(trx))) return null;
            await repo.insert(trx, row);
            await deps.events.record(trx, { ...appCreated(null), accountId: principal.accountId });
            return mustGet(principal.accountId, row.id, trx);
          });
        } else {
          // With an image, the app is born held by its first deploy, queued in the same transaction.
          const image = input.image;
          const steps = driver.steps({ kind: 'app.deploy', cluster: await loadClusterSpec(db, cluster.id), app: { ...toAppSpec(row), image: null }, image });
          const deployId = newId('deploy', Date.parse(now));
          const started = await startJob({
            type: 'app.deploy',
            principal,
            resource: { type: 'app', id: row.id },
            clusterId: cluster.id,
            now,
            events: (job) => [appCreated(job.id), { type: 'deploy.created', actor, subject: { type: 'deploy', id: deployId }, data: { app_id: row.id, image, job_id: job.id } }],
            claim: async (trx, job) => {
              if (!(await lockCluster(trx))) return null;
              const held: AppRow = { ...row, status: 'deploying', active_job_id: job.id };
              await repo.insert(trx, held);
              return planDeploy(trx, deploys, { principal, app: held, image, deployId, job, steps, previous: { status: 'pending', status_reason: null } });
            },
            readBack: (trx) => mustGet(principal.accountId, row.id, trx),
          });
          created = started?.resource ?? null;
        }
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`Cluster ${cluster.id} already has an app named "${input.name}".`);
        throw error;
      }
      if (created === null) {
        const fresh = (await clusters.get(principal.accountId, cluster.id)) ?? cluster;
        if (fresh.status !== 'running') {
          throw conflict(`Cluster ${fresh.id} is ${fresh.status}; apps can be created only on a running cluster.`, { cluster_status: fresh.status });
        }
        throw conflict(`Cluster ${fresh.id} is busy with job ${fresh.active_job_id ?? ''}; create the app when it has finished.`, { active_job_id: fresh.active_job_id });
      }
      return presentApp(created);
    },

    async list(accountId: string, query: AppFilter & { limit?: number; cursor?: string }, fence: ResourceFence | null = null) {
      const page = pageRequest(query);
      return toPage(await repo.list(accountId, query, page, fence), page, presentApp);
    },

    async get(accountId: string, id: string) {
      return presentApp(await mustGet(accountId, id));
    },

    async update(accountId: string, id: string, input: { name?: string; config?: { replicas?: number; port?: number } }) {
      const app = await mustGet(accountId, id);
      if (app.type === 'airflow' && input.config?.port !== undefined) throw portOnAirflow();
      if (GONE.includes(app.status as AppStatus)) throw conflict(`App ${id} is ${app.status}; it can no longer be changed.`, { app_status: app.status });
      // Settings take effect with the next deploy or restart; changing them starts no rollout by itself.
      const changes: Partial<AppRow> = { updated_at: clock.now().toISOString() };
      if (input.name !== undefined) changes.name = input.name;
      if (input.config !== undefined) changes.config = JSON.stringify({ ...parseConfig(app), ...input.config });
      try {
        if (!(await repo.update(accountId, id, changes))) {
          const fresh = await mustGet(accountId, id);
          throw conflict(`App ${id} is ${fresh.status}; it can no longer be changed.`, { app_status: fresh.status });
        }
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`Cluster ${app.cluster_id} already has an app named "${input.name ?? ''}".`);
        throw error;
      }
      return presentApp(await mustGet(accountId, id));
    },

    async remove(principal: Principal, actor: Actor, id: string) {
      const app = await mustGet(principal.accountId, id);
      return startAppJob(principal, app, { type: 'app.delete', allowed: ['pending', 'running', 'failed'], status: 'deleting', verb: 'delete' }, (job) => [
        { type: 'app.deleted', actor, subject: { type: 'app', id }, data: { name: app.name, cluster_id: app.cluster_id, job_id: job.id } },
      ]);
    },

    async restart(principal: Principal, id: string) {
      const app = await mustGet(principal.accountId, id);
      return startAppJob(principal, app, { type: 'app.restart', allowed: ['running'], status: 'restarting', verb: 'restart' });
    },

    async health(accountId: string, id: string) {
      const app = await mustGet(accountId, id);
      const cluster = await loadClusterSpec(db, app.cluster_id);
      const checkedAt = clock.now().toISOString();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<HealthCheck[]>((resolve) => {
        timer = setTimeout(
          () => resolve([{ name: 'cluster', status: 'unknown', message: `the cluster did not report within ${HEALTH_TIMEOUT_MS / 1000} s`, checked_at: checkedAt }]),
          HEALTH_TIMEOUT_MS,
        );
      });
      const reported = driver
        .appHealth(cluster, { ...toAppSpec(app), status: app.status })
        .catch((): HealthCheck[] => [{ name: 'cluster', status: 'unknown', message: 'the cluster could not be asked for health', checked_at: checkedAt }]);
      const checks = await Promise.race([reported, timeout]).finally(() => clearTimeout(timer));
      return { app_id: app.id, status: overallHealth(checks), checks, checked_at: checkedAt };
    },
  };
}
