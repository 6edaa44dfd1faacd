import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { JobTable } from '../../db/schema.js';
import type { Operation, StepOutputs } from '../../infra/driver.js';

export type JobRow = Selectable<JobTable>;

/** Where a resource goes back to when a job that never started is canceled: its status (and reason) before. */
interface Previous {
  previous_status: string;
}
interface PreviousWithReason extends Previous {
  previous_status_reason: string | null;
}

/**
 * What each job type carries from the request that queued it (stored as `params.input`, JSON). The job
 * type decides the shape: a handler of `cluster.upgrade` reads `input.kubernetes_version` as a string.
 */
export interface JobInputs {
  'cluster.create': { kubernetes_version: string };
  'cluster.upgrade': Previous & { kubernetes_version: string };
  /** `pool_statuses`: each live pool's status before the destroy marked it deleting, to put back if it stops early. */
  'cluster.destroy': Previous & { pool_statuses: Record<string, string> };
  'node_pool.create': Record<string, never>;
  'node_pool.resize': { min_size: number; max_size: number; desired_size: number };
  'node_pool.delete': Previous;
  'app.deploy': PreviousWithReason & { deploy_id: string; image: string };
  'app.restart': PreviousWithReason;
  'app.delete': PreviousWithReason;
  'dag.sync': { app_id: string; version: number; digest: string };
}

export type JobType = keyof JobInputs;

/** Every job type, in one list (buildApp refuses to start when one has no handler). */
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
] as const satisfies readonly JobType[];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINISHED_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];

/** Why a job did not succeed (`error.code` of GET /jobs/{id}). */
export type JobErrorCode =
  /** A driver step failed; the message names the step and the driver's reason. */
  | 'step_failed'
  /** Interrupted by restarts more than MAX_ATTEMPTS times. */
  | 'abandoned'
  /** Taken by an instance that has no handler for its type (not taken at all since types are filtered). */
  | 'unknown_job_type'
  | 'canceled';

export const JOB_RESOURCE_TYPES = ['cluster', 'node_pool', 'app', 'dag_bundle'] as const;
export type JobResourceType = (typeof JOB_RESOURCE_TYPES)[number];

/** A job as its handlers see it: the row, with its input typed by its type and what its steps learned. */
export type Job<T extends JobType = JobType> = {
  [K in T]: Omit<JobRow, 'type' | 'params'> & { type: K; input: JobInputs[K]; outputs: StepOutputs };
}[T];

/** The stored `params` column. */
export interface JobParams<T extends JobType = JobType> {
  input: JobInputs[T];
  outputs: StepOutputs;
}

export function isJobType(value: string): value is JobType {
  return (JOB_TYPES as readonly string[]).includes(value);
}

/**
 * What a field of an input means when a job stored by an earlier version lacks it: where a cancel puts
 * the resource back (the statuses those versions assumed), and no pools to restore.
 */
const INPUT_DEFAULTS: { [T in JobType]?: Partial<JobInputs[T]> } = {
  'cluster.upgrade': { previous_status: 'running' },
  'cluster.destroy': { previous_status: 'running', pool_statuses: {} },
  'node_pool.delete': { previous_status: 'running' },
  'app.deploy': { previous_status: 'pending', previous_status_reason: null },
  'app.restart': { previous_status: 'pending', previous_status_reason: null },
  'app.delete': { previous_status: 'pending', previous_status_reason: null },
};

/** The typed job of a row, or null when its type is not one this build knows. */
export function toJob(row: JobRow): Job | null {
  if (!isJobType(row.type)) return null;
  const { params, ...rest } = row;
  // Written by enqueue, in the shape of its type's input (with the defaults above for older rows).
  const parsed = JSON.parse(params) as Partial<JobParams>;
  const input = { ...INPUT_DEFAULTS[row.type], ...parsed.input };
  return { ...rest, type: row.type, input, outputs: parsed.outputs ?? {} } as Job;
}

/**
 * What a resource module tells the runner about one job type: the driver operation to run, and how
 * the resource changes when the job ends. The end hooks run inside the transaction that finishes the
 * job, so a job and its resource never disagree.
 */
export interface JobHandler<T extends JobType = JobType> {
  operation(db: Db, job: Job<T>): Promise<Operation>;
  succeeded(trx: Db, job: Job<T>, now: string): Promise<void>;
  failed(trx: Db, job: Job<T>, reason: string, now: string): Promise<void>;
  canceled(trx: Db, job: Job<T>, now: string): Promise<void>;
}

/** Each module supplies the handlers of its job types. */
export type JobHandlers = { [T in JobType]?: JobHandler<T> };

export class MissingJobHandlerError extends Error {
  constructor(type: string) {
    super(`No handler is registered for job type ${type}.`);
    this.name = 'MissingJobHandlerError';
  }
}

/**
 * Every module's job handlers, gathered while the modules register (buildApp then refuses to start when
 * a job type has none: it would sit queued forever).
 */
export class JobHandlerRegistry {
  readonly #handlers: JobHandlers = {};

  add(handlers: JobHandlers): void {
    for (const type of Object.keys(handlers) as JobType[]) {
      if (this.#handlers[type] !== undefined) throw new Error(`Two handlers for job type ${type}.`);
    }
    Object.assign(this.#handlers, handlers);
  }

  /** The job types handled here: an instance takes only these (during a rolling upgrade, newer types wait for newer instances). */
  types(): JobType[] {
    return Object.keys(this.#handlers) as JobType[];
  }

  assertComplete(): void {
    for (const type of JOB_TYPES) if (this.#handlers[type] === undefined) throw new MissingJobHandlerError(type);
  }

  /** The handler of this job's type; the one place where a job's type picks its handler. */
  for(job: Job): JobHandler {
    const handler = this.#handlers[job.type] as JobHandler | undefined;
    if (handler === undefined) throw new MissingJobHandlerError(job.type);
    return handler;
  }
}
