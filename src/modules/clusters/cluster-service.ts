import type { ResourceFence } from '../../auth/resource-fence.js';
import type { Principal } from '../../auth/principal.js';
import { isUniqueViolation, type Db } from '../../db/database.js';
import { AppError, conflict, notFound, validationFailed } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { InfraDriver } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { checkRegion, type Provider } from '../clouds/cloud-credentials.js';
import { createBillingRepo } from '../billing/billing-repo.js';
import { nextPlanFor, planOf, type Plan } from '../billing/plans.js';
import { createCloudRepo } from '../clouds/cloud-repo.js';
import type { EventLog } from '../events/event-log.js';
import type { Actor } from '../events/event-types.js';
import { createJobStarter, type JobRequest, type StartedJob } from '../jobs/job-starter.js';
import type { JobInputs } from '../jobs/job-types.js';
import { markPoolsDeleting } from '../node-pools/node-pool-repo.js';
import { createClusterRepo, loadClusterSpec, type ClusterRow, type ClusterStatus } from './cluster-repo.js';
import { DEFAULT_KUBERNETES_VERSION, upgradeProblem } from './kubernetes-versions.js';

export function presentCluster(row: ClusterRow) {
  return {
    id: row.id,
    name: row.name,
    cloud_id: row.cloud_id,
    region: row.region,
    kubernetes_version: row.kubernetes_version,
    status: row.status,
    status_reason: row.status_reason,
    endpoint: row.endpoint,
    labels: JSON.parse(row.labels) as Record<string, string>,
    auto_upgrade: row.auto_upgrade === 1,
    active_job_id: row.active_job_id,
    created_at: row.created_at,
    updated_at: row.updated_at,
    deleted_at: row.deleted_at,
  };
}

/** Why an operation cannot start on this cluster now. */
export function busyConflict(cluster: ClusterRow, operation: string, needs: readonly ClusterStatus[]): AppError {
  if (cluster.active_job_id !== null) {
    return conflict(`Cluster ${cluster.id} is busy with job ${cluster.active_job_id}; wait for it to finish or cancel it before you ${operation}.`, {
      active_job_id: cluster.active_job_id,
    });
  }
  return conflict(`Cluster ${cluster.id} is ${cluster.status}; to ${operation} it must be ${needs.join(' or ')}.`, { cluster_status: cluster.status });
}

/** 409 plan_limit_reached: the plan's cluster limit, and the plan that lifts it (none above the largest). */
function planLimitReached(plan: Plan, live: number): AppError {
  const next = nextPlanFor(plan);
  const upgrade = next === null ? 'It is the largest plan; contact support for more.' : `The ${next.name} plan allows ${next.limits.max_clusters}: change plans with POST /billing/subscription.`;
  return new AppError(
    'plan_limit_reached',
    `The ${plan.name} plan allows ${plan.limits.max_clusters} cluster${plan.limits.max_clusters === 1 ? '' : 's'} and this account has ${live}. ${upgrade} Or destroy a cluster first.`,
    { limit: 'max_clusters', max_clusters: plan.limits.max_clusters, clusters: live, plan: plan.id, upgrade_plan: next?.id ?? null },
  );
}

export interface ClusterServiceDeps {
  db: Db;
  clock: Clock;
  driver: InfraDriver;
  events: Pick<EventLog, 'record'>;
}

export function createClusterService(deps: ClusterServiceDeps) {
  const { db, clock, driver } = deps;
  const repo = createClusterRepo(db);
  const clouds = createCloudRepo(db);
  const billing = createBillingRepo(db);
  const startJob = createJobStarter({ db, clock, events: deps.events });

  async function mustGet(accountId: string, id: string, q: Db = db): Promise<ClusterRow> {
    const row = await repo.get(accountId, id, q);
    if (!row) throw notFound('cluster', id);
    return row;
  }

  /** The 202 body: the cluster as its job holds it, and the job. */
  const accepted = ({ resource, job }: StartedJob<ClusterRow>) => ({ cluster: presentCluster(resource), job });

  /** Reads the cluster back inside the job's transaction. */
  const readBack = (principal: Principal, id: string) => (trx: Db) => mustGet(principal.accountId, id, trx);

  /**
   * Starts a job on an existing cluster: claims it (from one of `allowed` into `status`), then `plan`
   * writes what else the operation needs and returns the job's input, in the job's transaction; 409 when
   * another job or the cluster's status is in the way.
   */
  async function startClusterJob<T extends 'cluster.upgrade' | 'cluster.destroy'>(
    principal: Principal,
    cluster: ClusterRow,
    job: { type: T; verb: string; allowed: readonly ClusterStatus[]; status: ClusterStatus; steps: readonly string[] },
    plan: (trx: Db, now: string) => Promise<JobInputs[T]>,
    events?: JobRequest<T, ClusterRow>['events'],
  ) {
    const started = await startJob({
      type: job.type,
      principal,
      events,
      resource: { type: 'cluster', id: cluster.id },
      clusterId: cluster.id,
      claim: async (trx, { id, now }) => {
        const claimed = await repo.claimForJob(trx, principal.accountId, cluster.id, id, job.allowed, { status: job.status, status_reason: null, updated_at: now });
        return claimed ? { input: await plan(trx, now), steps: job.steps } : null;
      },
      readBack: readBack(principal, cluster.id),
    });
    if (started === null) throw busyConflict(await mustGet(principal.accountId, cluster.id), job.verb, job.allowed);
    return accepted(started);
  }

  return {
    async create(
      principal: Principal,
      actor: Actor,
      input: { name: string; cloud_id: string; kubernetes_version?: string; region?: string; labels?: Record<string, string>; auto_upgrade?: boolean },
    ) {
      const cloud = await clouds.get(principal.accountId, input.cloud_id);
      if (!cloud) throw notFound('cloud', input.cloud_id);
      const region = input.region ?? cloud.region;
      const regionError = checkRegion(cloud.provider as Provider, region);
      if (regionError) throw validationFailed([regionError]);
      const now = clock.now().toISOString();
      const id = newId('cluster', Date.parse(now));
      const kubernetesVersion = input.kubernetes_version ?? DEFAULT_KUBERNETES_VERSION;
      const steps = driver.steps({
        kind: 'cluster.create',
        cluster: { id, name: input.name, provider: cloud.provider as Provider, region, kubernetesVersion, nodePools: [] },
      });
      // The plan is locked and read in the create's transaction; its billing row must exist first.
      await billing.ensure(principal.accountId, new Date(now));
      try {
        const started = await startJob({
          type: 'cluster.create',
          principal,
          resource: { type: 'cluster', id },
          clusterId: id,
          now,
          events: (job) => [
            {
              type: 'cluster.created',
              actor,
              subject: { type: 'cluster', id },
              data: { name: input.name, cloud_id: cloud.id, region, kubernetes_version: kubernetesVersion, job_id: job.id },
            },
          ],
          // The cluster is born held by its create job.
          claim: async (trx, job) => {
            // Counted under the account's plan lock: of two concurrent creates past the limit, one waits and then sees the other.
            const plan = planOf(await billing.lockPlan(trx, principal.accountId));
            const live = await repo.liveCount(trx, principal.accountId);
            if (live >= plan.limits.max_clusters) throw planLimitReached(plan, live);
            if (!(await clouds.lockLive(trx, principal.accountId, cloud.id))) throw notFound('cloud', cloud.id);
            await repo.insert(trx, {
              id,
              account_id: principal.accountId,
              cloud_id: cloud.id,
              name: input.name,
              region,
              kubernetes_version: kubernetesVersion,
              status: 'provisioning',
              status_reason: null,
              endpoint: null,
              labels: JSON.stringify(input.labels ?? {}),
              auto_upgrade: input.auto_upgrade ? 1 : 0,
              active_job_id: job.id,
              created_at: job.now,
              updated_at: job.now,
              deleted_at: null,
            });
            return { input: { kubernetes_version: kubernetesVersion }, steps };
          },
          readBack: readBack(principal, id),
        });
        // A new cluster is always free for its own job.
        if (started === null) throw new Error(`cluster ${id} was not claimed by its create job`);
        return accepted(started);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`A cluster named "${input.name}" already exists in this account.`);
        throw error;
      }
    },

    async list(accountId: string, query: { status?: string; cloud_id?: string; limit?: number; cursor?: string }, fence: ResourceFence | null = null) {
      const page = pageRequest(query);
      return toPage(await repo.list(accountId, query, page, fence), page, presentCluster);
    },

    async get(accountId: string, id: string) {
      return presentCluster(await mustGet(accountId, id));
    },

    async update(accountId: string, id: string, input: { name?: string; labels?: Record<string, string>; auto_upgrade?: boolean }) {
      const cluster = await mustGet(accountId, id);
      const changes: Partial<ClusterRow> = { updated_at: clock.now().toISOString() };
      if (input.name !== undefined) changes.name = input.name;
      if (input.labels !== undefined) changes.labels = JSON.stringify(input.labels);
      if (input.auto_upgrade !== undefined) changes.auto_upgrade = input.auto_upgrade ? 1 : 0;
      try {
        if (!(await repo.update(accountId, id, changes))) throw conflict(`Cluster ${id} is ${cluster.status}; it can no longer be changed.`);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`A cluster named "${input.name ?? ''}" already exists in this account.`);
        throw error;
      }
      return presentCluster(await mustGet(accountId, id));
    },

    async upgrade(principal: Principal, id: string, toVersion: string) {
      const cluster = await mustGet(principal.accountId, id);
      const problem = upgradeProblem(cluster.kubernetes_version, toVersion);
      if (problem) throw validationFailed([{ path: 'kubernetes_version', message: problem }]);
      const steps = driver.steps({ kind: 'cluster.upgrade', cluster: await loadClusterSpec(db, id), toVersion });
      return startClusterJob(principal, cluster, { type: 'cluster.upgrade', verb: 'upgrade', allowed: ['running'], status: 'upgrading', steps }, async () => ({
        kubernetes_version: toVersion,
        previous_status: cluster.status,
      }));
    },

    async destroy(principal: Principal, actor: Actor, id: string) {
      const cluster = await mustGet(principal.accountId, id);
      const steps = driver.steps({ kind: 'cluster.destroy', cluster: await loadClusterSpec(db, id) });
      const job = { type: 'cluster.destroy', verb: 'destroy', allowed: ['running', 'failed'], status: 'deleting', steps } as const;
      return startClusterJob(principal, cluster, job, async (trx, now) => {
        // Applications run on the cluster: they are deleted first, on purpose, not swept away with it.
        const apps = await repo.liveAppCount(trx, id);
        if (apps > 0) throw conflict(`Cluster ${id} still runs ${apps} application(s); delete them first.`, { apps });
        // Each pool's status is kept: a destroy canceled or failed before it removed the pools puts them back.
        return { pool_statuses: await markPoolsDeleting(trx, id, now), previous_status: cluster.status };
      }, (started) => [{ type: 'cluster.deleted', actor, subject: { type: 'cluster', id }, data: { name: cluster.name, job_id: started.id } }]);
    },

    mustGet,
  };
}

export type ClusterService = ReturnType<typeof createClusterService>;
