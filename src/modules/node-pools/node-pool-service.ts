import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import { isUniqueViolation, type Db } from '../../db/database.js';
import { newestFirst } from '../../db/keyset.js';
import { conflict, notFound, validationFailed, type FieldError } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { InfraDriver, NodePoolSpec, Operation } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { createClusterRepo, loadClusterSpec, type NodePoolRow } from '../clusters/cluster-repo.js';
import { busyConflict } from '../clusters/cluster-service.js';
import { enqueueJob } from '../jobs/job-repo.js';
import { presentJob } from '../jobs/job-service.js';
import type { JobType } from '../jobs/job-types.js';

export function presentNodePool(row: NodePoolRow) {
  return {
    id: row.id,
    cluster_id: row.cluster_id,
    name: row.name,
    instance_type: row.instance_type,
    min_size: row.min_size,
    max_size: row.max_size,
    desired_size: row.desired_size,
    current_size: row.current_size,
    status: row.status,
    status_reason: row.status_reason,
    created_at: row.created_at,
    updated_at: row.updated_at,
    deleted_at: row.deleted_at,
  };
}

export interface Sizes {
  min_size: number;
  max_size: number;
  desired_size: number;
}

/** min ≤ desired ≤ max, and max at least 1: checked on the merged sizes, so a partial resize is judged whole. */
export function sizeErrors(sizes: Sizes): FieldError[] {
  const errors: FieldError[] = [];
  if (sizes.max_size < 1) errors.push({ path: 'max_size', message: 'must be at least 1' });
  if (sizes.min_size > sizes.max_size) errors.push({ path: 'min_size', message: `must not exceed max_size (${sizes.max_size})` });
  if (sizes.desired_size < sizes.min_size || sizes.desired_size > sizes.max_size) {
    errors.push({ path: 'desired_size', message: `must be between min_size (${sizes.min_size}) and max_size (${sizes.max_size})` });
  }
  return errors;
}

/** Moves the pool into its job's status only if it is still in a state that allows it (re-checked in the transaction). */
async function claimPool(trx: Db, poolId: string, allowed: string[], status: string, now: string): Promise<void> {
  const result = await trx
    .updateTable('node_pools')
    .set({ status, status_reason: null, updated_at: now })
    .where('id', '=', poolId)
    .where('status', 'in', allowed)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) throw conflict(`Node pool ${poolId} changed meanwhile; read it again and retry.`);
}

const toSpec = (row: NodePoolRow): NodePoolSpec => ({
  id: row.id,
  name: row.name,
  instanceType: row.instance_type,
  minSize: row.min_size,
  maxSize: row.max_size,
  desiredSize: row.desired_size,
});

export function createNodePoolService(deps: { db: Db; clock: Clock; driver: InfraDriver }) {
  const { db, clock, driver } = deps;
  const clusters = createClusterRepo(db);

  async function mustGetCluster(accountId: string, clusterId: string) {
    const cluster = await clusters.get(accountId, clusterId);
    if (!cluster) throw notFound('cluster', clusterId);
    return cluster;
  }

  async function mustGetPool(accountId: string, clusterId: string, poolId: string): Promise<NodePoolRow> {
    const pool = await db
      .selectFrom('node_pools')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('cluster_id', '=', clusterId)
      .where('id', '=', poolId)
      .executeTakeFirst();
    if (!pool) throw notFound('node pool', poolId);
    return pool;
  }

  /**
   * A node pool job holds its cluster like a cluster job does (one operation per cluster at a time),
   * and changes the pool in the same transaction.
   */
  async function startPoolJob(
    principal: Principal,
    clusterId: string,
    type: JobType,
    operation: Operation,
    write: (trx: Db, jobId: string, now: string) => Promise<void>,
    poolId: string,
    input: Record<string, unknown>,
    verb: string,
  ) {
    const now = clock.now().toISOString();
    const jobId = newId('job', Date.parse(now));
    const job = await db.transaction().execute(async (trx) => {
      if (!(await clusters.claimForJob(trx, principal.accountId, clusterId, jobId, ['running'], { updated_at: now }))) return null;
      await write(trx, jobId, now);
      return enqueueJob(trx, {
        id: jobId,
        accountId: principal.accountId,
        type,
        resourceType: 'node_pool',
        resourceId: poolId,
        clusterId,
        input,
        createdBy: principalId(principal),
        steps: driver.steps(operation),
        now,
      });
    });
    if (!job) throw busyConflict(await mustGetCluster(principal.accountId, clusterId), verb, ['running']);
    const steps = await db.selectFrom('job_steps').selectAll().where('job_id', '=', job.id).orderBy('position').execute();
    return { node_pool: presentNodePool(await mustGetPool(principal.accountId, clusterId, poolId)), job: presentJob(job, steps) };
  }

  return {
    async create(principal: Principal, clusterId: string, input: Sizes & { name: string; instance_type: string }) {
      await mustGetCluster(principal.accountId, clusterId);
      const errors = sizeErrors(input);
      if (errors.length > 0) throw validationFailed(errors);
      const now = clock.now().toISOString();
      const row: NodePoolRow = {
        id: newId('nodePool', Date.parse(now)),
        account_id: principal.accountId,
        cluster_id: clusterId,
        name: input.name,
        instance_type: input.instance_type,
        min_size: input.min_size,
        max_size: input.max_size,
        desired_size: input.desired_size,
        current_size: 0,
        status: 'provisioning',
        status_reason: null,
        created_at: now,
        updated_at: now,
        deleted_at: null,
      };
      const cluster = await loadClusterSpec(db, clusterId);
      try {
        return await startPoolJob(
          principal,
          clusterId,
          'node_pool.create',
          { kind: 'node_pool.create', cluster, pool: toSpec(row) },
          async (trx) => {
            await trx.insertInto('node_pools').values(row).execute();
          },
          row.id,
          {},
          'add a node pool to',
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`Cluster ${clusterId} already has a node pool named "${input.name}".`);
        throw error;
      }
    },

    async list(accountId: string, clusterId: string, query: { limit?: number; cursor?: string; include_deleted?: boolean }) {
      await mustGetCluster(accountId, clusterId);
      const page = pageRequest(query);
      let q = db.selectFrom('node_pools').selectAll().where('account_id', '=', accountId).where('cluster_id', '=', clusterId);
      if (!query.include_deleted) q = q.where('deleted_at', 'is', null);
      const rows = await newestFirst(q, 'id', page).execute();
      return toPage(rows, page, presentNodePool);
    },

    async get(accountId: string, clusterId: string, poolId: string) {
      await mustGetCluster(accountId, clusterId);
      return presentNodePool(await mustGetPool(accountId, clusterId, poolId));
    },

    async resize(principal: Principal, clusterId: string, poolId: string, input: Partial<Sizes>) {
      await mustGetCluster(principal.accountId, clusterId);
      const pool = await mustGetPool(principal.accountId, clusterId, poolId);
      const sizes: Sizes = {
        min_size: input.min_size ?? pool.min_size,
        max_size: input.max_size ?? pool.max_size,
        desired_size: input.desired_size ?? pool.desired_size,
      };
      const errors = sizeErrors(sizes);
      if (errors.length > 0) throw validationFailed(errors);
      if (pool.status !== 'running') throw conflict(`Node pool ${poolId} is ${pool.status}; it can be resized when running.`);
      const cluster = await loadClusterSpec(db, clusterId);
      return startPoolJob(
        principal,
        clusterId,
        'node_pool.resize',
        { kind: 'node_pool.resize', cluster, pool: toSpec(pool), to: { minSize: sizes.min_size, maxSize: sizes.max_size, desiredSize: sizes.desired_size } },
        async (trx, _jobId, now) => {
          await claimPool(trx, poolId, ['running'], 'resizing', now);
        },
        poolId,
        { ...sizes },
        'resize a node pool of',
      );
    },

    async remove(principal: Principal, clusterId: string, poolId: string) {
      await mustGetCluster(principal.accountId, clusterId);
      const pool = await mustGetPool(principal.accountId, clusterId, poolId);
      if (pool.status !== 'running' && pool.status !== 'failed') {
        throw conflict(`Node pool ${poolId} is ${pool.status}; it can be removed when running or failed.`);
      }
      const cluster = await loadClusterSpec(db, clusterId);
      return startPoolJob(
        principal,
        clusterId,
        'node_pool.delete',
        { kind: 'node_pool.delete', cluster, pool: toSpec(pool) },
        async (trx, _jobId, now) => {
          await claimPool(trx, poolId, ['running', 'failed'], 'deleting', now);
        },
        poolId,
        { previous_status: pool.status },
        'remove a node pool from',
      );
    },
  };
}
