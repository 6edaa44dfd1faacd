import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { JobTable } from '../../db/schema.js';
import type { Operation, StepOutputs } from '../../infra/driver.js';

export type JobRow = Selectable<JobTable>;

export const JOB_TYPES = [
  'cluster.create',
  'cluster.upgrade',
  'cluster.destroy',
  'node_pool.create',
  'node_pool.resize',
  'node_pool.delete',
  'app.deploy',
  'app.restart',
  'app.delete',
  'dag.sync',
] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];

/**
 * What a resource module tells the runner about one job type: the driver operation to run, and how
 * the resource changes when the job ends. The end hooks run inside the transaction that finishes the
 * job, so a job and its resource never disagree.
 */
export interface JobHandler {
  operation(db: Db, job: JobRow): Promise<Operation>;
  succeeded(trx: Db, job: JobRow, outputs: StepOutputs, now: string): Promise<void>;
  failed(trx: Db, job: JobRow, reason: string, now: string): Promise<void>;
  canceled(trx: Db, job: JobRow, now: string): Promise<void>;
}

/** Each module supplies the handlers of its job types; buildApp refuses to start when one is missing. */
export type JobHandlers = Partial<Record<JobType, JobHandler>>;

export const JOB_RESOURCE_TYPES = ['cluster', 'node_pool', 'app', 'dag_bundle'] as const;
export type JobResourceType = (typeof JOB_RESOURCE_TYPES)[number];

/** What a job carries besides its resource: the request's input and what its steps learned. */
export interface JobParams {
  input: Record<string, unknown>;
  outputs: StepOutputs;
}

export function parseParams(job: JobRow): JobParams {
  const parsed = JSON.parse(job.params) as Partial<JobParams>;
  return { input: parsed.input ?? {}, outputs: parsed.outputs ?? {} };
}

export class MissingJobHandlerError extends Error {
  constructor(type: string) {
    super(`No handler is registered for job type ${type}.`);
    this.name = 'MissingJobHandlerError';
  }
}

/** The handler of a job type; buildApp has already checked every type has one. */
export function handlerFor(handlers: JobHandlers, type: string): JobHandler {
  const handler = handlers[type as JobType];
  if (!handler) throw new MissingJobHandlerError(type);
  return handler;
}
