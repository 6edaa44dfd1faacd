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

export type JobHandlers = Record<JobType, JobHandler>;

/** What a job carries besides its resource: the request's input and what its steps learned. */
export interface JobParams {
  input: Record<string, unknown>;
  outputs: StepOutputs;
}

export function parseParams(job: JobRow): JobParams {
  const parsed = JSON.parse(job.params) as Partial<JobParams>;
  return { input: parsed.input ?? {}, outputs: parsed.outputs ?? {} };
}
