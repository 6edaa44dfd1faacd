import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import { isUniqueViolation, type Db } from '../../db/database.js';
import type { AppError} from '../../http/errors.js';
import { conflict, notFound, validationFailed } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { InfraDriver } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { checkRegion, type Provider } from '../clouds/cloud-credentials.js';
import { createCloudRepo } from '../clouds/cloud-repo.js';
import { enqueueJob } from '../jobs/job-repo.js';
import { presentJob } from '../jobs/job-service.js';
import type { JobRow, JobType } from '../jobs/job-types.js';
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

export interface ClusterServiceDeps {
  db: Db;
  clock: Clock;
  driver: InfraDriver;
}

export function createClusterService(deps: ClusterServiceDeps) {
  const { db, clock, driver } = deps;
  const repo = createClusterRepo(db);
  const clouds = createCloudRepo(db);

  async function mustGet(accountId: string, id: string): Promise<ClusterRow> {
    const row = await repo.get(accountId, id);
    if (!row) throw notFound('cluster', id);
    return row;
  }

  /** Claims the cluster and queues its job in one transaction; 409 when another job or its status is in the way. */
  async function startClusterJob(
    principal: Principal,
    cluster: ClusterRow,
    type: JobType,
    allowed: readonly ClusterStatus[],
    changes: Partial<ClusterRow>,
    input: Record<string, unknown>,
    verb: string,
  ) {
    const now = clock.now().toISOString();
    const jobId = newId('job', Date.parse(now));
    const spec = await loadClusterSpec(db, cluster.id);
    const operation =
      type === 'cluster.upgrade'
        ? { kind: type, cluster: spec, toVersion: String(input.kubernetes_version) }
        : { kind: type as 'cluster.destroy', cluster: spec };
    const job = await db.transaction().execute(async (trx) => {
      const claimed = await repo.claimForJob(trx, principal.accountId, cluster.id, jobId, allowed, { ...changes, updated_at: now });
      if (!claimed) return null;
      if (type === 'cluster.destroy') {
        // Applications run on the cluster: they are deleted first, on purpose, not swept away with it.
        const apps = await trx
          .selectFrom('apps')
          .select((eb) => eb.fn.countAll<string | number>().as('n'))
          .where('cluster_id', '=', cluster.id)
          .where('deleted_at', 'is', null)
          .executeTakeFirst();
        if (Number(apps?.n ?? 0) > 0) {
          throw conflict(`Cluster ${cluster.id} still runs ${Number(apps?.n)} application(s); delete them first.`, { apps: Number(apps?.n) });
        }
        // Remember each pool's status: a destroy canceled or failed before it removed the pools puts them back.
        const pools = await trx.selectFrom('node_pools').select(['id', 'status']).where('cluster_id', '=', cluster.id).where('deleted_at', 'is', null).execute();
        input = { ...input, pool_statuses: Object.fromEntries(pools.map((pool) => [pool.id, pool.status])) };
        await trx.updateTable('node_pools').set({ status: 'deleting', updated_at: now }).where('cluster_id', '=', cluster.id).where('deleted_at', 'is', null).execute();
      }
      return enqueueJob(trx, {
        id: jobId,
        accountId: principal.accountId,
        type,
        resourceType: 'cluster',
        resourceId: cluster.id,
        clusterId: cluster.id,
        input: { ...input, previous_status: cluster.status },
        createdBy: principalId(principal),
        steps: driver.steps(operation),
        now,
      });
    });
    if (!job) throw busyConflict(await mustGet(principal.accountId, cluster.id), verb, allowed);
    return accepted(principal.accountId, cluster.id, job);
  }

  async function accepted(accountId: string, clusterId: string, job: JobRow) {
    const steps = await db.selectFrom('job_steps').selectAll().where('job_id', '=', job.id).orderBy('position').execute();
    return { cluster: presentCluster(await mustGet(accountId, clusterId)), job: presentJob(job, steps) };
  }

  return {
    async create(
      principal: Principal,
      input: { name: string; cloud_id: string; kubernetes_version?: string; region?: string; labels?: Record<string, string>; auto_upgrade?: boolean },
    ) {
      const cloud = await clouds.get(principal.accountId, input.cloud_id);
      if (!cloud) throw notFound('cloud', input.cloud_id);
      const region = input.region ?? cloud.region;
      const regionError = checkRegion(cloud.provider as Provider, region);
      if (regionError) throw validationFailed([regionError]);
      const now = clock.now().toISOString();
      const row: ClusterRow = {
        id: newId('cluster', Date.parse(now)),
        account_id: principal.accountId,
        cloud_id: cloud.id,
        name: input.name,
        region,
        kubernetes_version: input.kubernetes_version ?? DEFAULT_KUBERNETES_VERSION,
        status: 'provisioning',
        status_reason: null,
        endpoint: null,
        labels: JSON.stringify(input.labels ?? {}),
        auto_upgrade: input.auto_upgrade ? 1 : 0,
        active_job_id: newId('job', Date.parse(now)),
        created_at: now,
        updated_at: now,
        deleted_at: null,
      };
      const steps = driver.steps({
        kind: 'cluster.create',
        cluster: { id: row.id, name: row.name, provider: cloud.provider as Provider, region, kubernetesVersion: row.kubernetes_version, nodePools: [] },
      });
      try {
        const job = await db.transaction().execute(async (trx) => {
          if (!(await clouds.lockLive(trx, principal.accountId, cloud.id))) throw notFound('cloud', cloud.id);
          await repo.insert(trx, row);
          return enqueueJob(trx, {
            id: row.active_job_id ?? undefined,
            accountId: principal.accountId,
            type: 'cluster.create',
            resourceType: 'cluster',
            resourceId: row.id,
            clusterId: row.id,
            input: { kubernetes_version: row.kubernetes_version },
            createdBy: principalId(principal),
            steps,
            now,
          });
        });
        return accepted(principal.accountId, row.id, job);
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`A cluster named "${input.name}" already exists in this account.`);
        throw error;
      }
    },

    async list(accountId: string, query: { status?: string; cloud_id?: string; limit?: number; cursor?: string }) {
      const page = pageRequest(query);
      return toPage(await repo.list(accountId, query, page), page, presentCluster);
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
      return startClusterJob(principal, cluster, 'cluster.upgrade', ['running'], { status: 'upgrading', status_reason: null }, { kubernetes_version: toVersion }, 'upgrade');
    },

    async destroy(principal: Principal, id: string) {
      const cluster = await mustGet(principal.accountId, id);
      return startClusterJob(principal, cluster, 'cluster.destroy', ['running', 'failed'], { status: 'deleting', status_reason: null }, {}, 'destroy');
    },

    mustGet,
  };
}

export type ClusterService = ReturnType<typeof createClusterService>;
