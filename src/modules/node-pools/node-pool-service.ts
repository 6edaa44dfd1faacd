import type { Principal } from '../../auth/principal.js';
import { isUniqueViolation, type Db } from '../../db/database.js';
import { conflict, notFound, validationFailed, type FieldError } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { InfraDriver, NodePoolSpec, Operation } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { createClusterRepo, loadClusterSpec } from '../clusters/cluster-repo.js';
import { busyConflict } from '../clusters/cluster-service.js';
import { createJobStarter } from '../jobs/job-starter.js';
import type { JobInputs } from '../jobs/job-types.js';
import { createNodePoolRepo, type NodePoolRow } from './node-pool-repo.js';

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

const toSpec = (row: NodePoolRow): NodePoolSpec => ({
  id: row.id,
  name: row.name,
  instanceType: row.instance_type,
  minSize: row.min_size,
  maxSize: row.max_size,
  desiredSize: row.desired_size,
});

type PoolJobType = 'node_pool.create' | 'node_pool.resize' | 'node_pool.delete';

export function createNodePoolService(deps: { db: Db; clock: Clock; driver: InfraDriver }) {
  const { db, clock, driver } = deps;
  const clusters = createClusterRepo(db);
  const repo = createNodePoolRepo(db);
  const startJob = createJobStarter({ db, clock });

  async function mustGetCluster(accountId: string, clusterId: string) {
    const cluster = await clusters.get(accountId, clusterId);
    if (!cluster) throw notFound('cluster', clusterId);
    return cluster;
  }

  async function mustGetPool(accountId: string, clusterId: string, poolId: string, q: Db = db): Promise<NodePoolRow> {
    const pool = await repo.get(accountId, clusterId, poolId, q);
    if (!pool) throw notFound('node pool', poolId);
    return pool;
  }

  /**
   * A node pool job holds its cluster like a cluster job does (one operation per cluster at a time),
   * and changes the pool in the same transaction (`write`).
   */
  async function startPoolJob<T extends PoolJobType>(
    principal: Principal,
    clusterId: string,
    poolId: string,
    job: { type: T; operation: Operation; input: JobInputs[T]; verb: string },
    write: (trx: Db, now: string) => Promise<void>,
  ) {
    const steps = driver.steps(job.operation);
    const started = await startJob({
      type: job.type,
      principal,
      resource: { type: 'node_pool', id: poolId },
      clusterId,
      claim: async (trx, { id, now }) => {
        if (!(await clusters.claimForJob(trx, principal.accountId, clusterId, id, ['running'], { updated_at: now }))) return null;
        await write(trx, now);
        return { input: job.input, steps };
      },
      readBack: (trx) => mustGetPool(principal.accountId, clusterId, poolId, trx),
    });
    if (started === null) throw busyConflict(await mustGetCluster(principal.accountId, clusterId), job.verb, ['running']);
    return { node_pool: presentNodePool(started.resource), job: started.job };
  }

  /** Moves the pool into its job's status if it is still in one that allows it (checked again in the transaction). */
  const claimPool = async (trx: Db, poolId: string, allowed: readonly string[], status: string, now: string) => {
    if (!(await repo.claim(trx, poolId, allowed, status, now))) throw conflict(`Node pool ${poolId} changed meanwhile; read it again and retry.`);
  };

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
          row.id,
          { type: 'node_pool.create', operation: { kind: 'node_pool.create', cluster, pool: toSpec(row) }, input: {}, verb: 'add a node pool to' },
          (trx) => repo.insert(trx, row),
        );
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`Cluster ${clusterId} already has a node pool named "${input.name}".`);
        throw error;
      }
    },

    async list(accountId: string, clusterId: string, query: { limit?: number; cursor?: string; include_deleted?: boolean }) {
      await mustGetCluster(accountId, clusterId);
      const page = pageRequest(query);
      return toPage(await repo.list(accountId, clusterId, { includeDeleted: query.include_deleted ?? false }, page), page, presentNodePool);
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
      const to = { minSize: sizes.min_size, maxSize: sizes.max_size, desiredSize: sizes.desired_size };
      return startPoolJob(
        principal,
        clusterId,
        poolId,
        { type: 'node_pool.resize', operation: { kind: 'node_pool.resize', cluster, pool: toSpec(pool), to }, input: { ...sizes }, verb: 'resize a node pool of' },
        (trx, now) => claimPool(trx, poolId, ['running'], 'resizing', now),
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
        poolId,
        { type: 'node_pool.delete', operation: { kind: 'node_pool.delete', cluster, pool: toSpec(pool) }, input: { previous_status: pool.status }, verb: 'remove a node pool from' },
        (trx, now) => claimPool(trx, poolId, ['running', 'failed'], 'deleting', now),
      );
    },
  };
}
