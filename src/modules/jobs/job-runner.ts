import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from '../../db/database.js';
import { StepFailedError, type InfraDriver, type Operation, type StepContext, type StepOutputs } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { createJobLeaseRepo, type JobOutcome, type StepChanges } from './job-lease-repo.js';
import type { JobStepRow } from './job-repo.js';
import { createClaimLoop } from '../../lib/claim-loop.js';
import { toJob, type Job, type JobErrorCode, type JobHandlerRegistry, type JobParams, type JobRow } from './job-types.js';

export interface JobRunnerDeps {
  /** The database, with what tells the dialects apart (how jobs are claimed) and its clock (for leases). */
  database: Pick<DatabaseHandle, 'db' | 'capabilities' | 'sqlNow' | 'faults'>;
  /** The time written on jobs, steps and log lines. */
  clock: Clock;
  /** Monotonic ms: how long lease renewals have been failing, in real time whatever `clock` says. */
  monotonicNow?: () => number;
  driver: InfraDriver;
  logger: FastifyBaseLogger;
  handlers: JobHandlerRegistry;
  pollIntervalMs: number;
  leaseMs: number;
  instanceId: string;
  /** One process owns the database (SQLite): jobs left running were orphaned by a crash; take them at once. */
  reclaimAllOnStart: boolean;
  concurrency?: number;
  /** Told how each run of a job on this instance ended (GET /metrics); none when metrics are off. */
  observer?: JobRunObserver | null;
}

/**
 * How one run of a job on this instance ended: the job's final status, or `interrupted` (shutdown or a lost
 * lease: it resumes later, here or elsewhere), or `error` (the runner itself failed, e.g. the database went
 * away; the job is taken again after its lease).
 */
export type JobRunOutcome = 'succeeded' | 'failed' | 'canceled' | 'interrupted' | 'error';

export interface JobRunObserver {
  /** `seconds`: from the claim to the end of the run. `failure`: the job's error code when it failed, else null. */
  ran(type: string, outcome: JobRunOutcome, seconds: number, failure: JobErrorCode | null): void;
  /** A poll for due jobs failed (the database is down or full): nothing is claimed until one works again. */
  pollFailed(): void;
}

export interface JobRunner {
  start(): Promise<void>;
  /** Stops claiming, interrupts running steps (they resume later) and releases their leases. */
  stop(): Promise<void>;
  /** Claims and runs what is due now; the poll loop calls it, tests may too. */
  tick(): Promise<void>;
}

/** A job that keeps being picked up after crashes is failed rather than retried forever. */
export const MAX_ATTEMPTS = 3;

class LeaseLostError extends Error {}

/** A job's log: lines numbered after the last one stored, written in order, only while the lease is ours. */
interface JobLog {
  write: StepContext['log'];
  /** The step later lines are about (null: the job as a whole). */
  step: string | null;
  /** Resolves once every line written so far is stored (or given up on). */
  flushed(): Promise<void>;
}

/**
 * Runs queued jobs on this instance: claims them under a lease (job-lease-repo.ts, which holds every
 * write a running job makes, each fenced by the lease), runs their driver steps one at a time, and
 * finishes them through their module's handler. It orchestrates; it writes no SQL of its own.
 */
export function createJobRunner(deps: JobRunnerDeps): JobRunner {
  const { clock, driver, logger, handlers } = deps;
  const monotonicNow = deps.monotonicNow ?? (() => performance.now());
  const concurrency = deps.concurrency ?? 4;

  const now = () => clock.now().toISOString();
  // Only job types this build can run are claimed: during a rolling upgrade an older instance leaves
  // newer types to the instances that know them.
  const leases = createJobLeaseRepo({ database: deps.database, instanceId: deps.instanceId, leaseMs: deps.leaseMs, knownTypes: handlers.types() });

  function openLog(jobId: string, lastSeq: number): JobLog {
    let seq = lastSeq;
    let chain: Promise<unknown> = Promise.resolve();
    const log: JobLog = {
      step: null,
      write(message, level = 'info') {
        const line = { job_id: jobId, seq: ++seq, at: now(), level, step: log.step, message: message.slice(0, 2000) };
        chain = chain
          .then(() => leases.appendLog(line))
          .catch((error: unknown) => logger.warn({ err: error, job_id: jobId }, 'could not store a job log line'));
      },
      flushed: async () => {
        await chain;
      },
    };
    return log;
  }

  async function setStep(jobId: string, position: number, changes: StepChanges): Promise<void> {
    if (!(await leases.setStep(jobId, position, changes))) throw new LeaseLostError();
  }

  /** Ends the job and, in the same transaction, moves its resource through its handler. */
  async function finish(job: Job, outcome: JobOutcome): Promise<JobOutcome> {
    const handler = handlers.for(job);
    const finished = await leases.finish(job.id, outcome, now, async (trx, row, at) => {
      const fresh = toJob(row) ?? job;
      if (outcome.status === 'succeeded') await handler.succeeded(trx, fresh, at);
      else if (outcome.status === 'failed') await handler.failed(trx, fresh, outcome.message, at);
      else await handler.canceled(trx, fresh, at);
    });
    if (!finished) throw new LeaseLostError();
    return outcome;
  }

  /** The job as stored now, still running under our lease (it may have been taken over, or asked to cancel). */
  async function current(jobId: string): Promise<Job> {
    const row = await leases.read(jobId);
    const job = toJob(row);
    if (job === null || row.lease_owner !== deps.instanceId || row.status !== 'running') throw new LeaseLostError();
    return job;
  }

  /** Keeps what a step learned (e.g. a new cluster's endpoint) with the job, for the steps after it and its handler. */
  async function saveOutputs(job: Job, outputs: StepOutputs): Promise<void> {
    const params: JobParams = { input: job.input, outputs: { ...job.outputs, ...outputs } };
    if (!(await leases.saveParams(job.id, JSON.stringify(params)))) throw new LeaseLostError();
  }

  /** Runs one step; null when it succeeded, else the outcome the job was finished with (failed). */
  async function runStep(job: Job, step: JobStepRow, operation: Operation, context: StepContext, log: JobLog): Promise<JobOutcome | null> {
    await setStep(job.id, step.position, { status: 'running', started_at: now() });
    try {
      const outputs = await driver.runStep(operation, step.name, context);
      if (Object.keys(outputs).length > 0) await saveOutputs(job, outputs);
    } catch (error) {
      if (context.signal.aborted) {
        // Shutdown or lost lease: the step runs again, from the start, wherever the job resumes.
        await leases.setStep(job.id, step.position, { status: 'pending', started_at: null }).catch(() => undefined);
        await log.flushed();
        throw error;
      }
      const message = error instanceof StepFailedError ? error.message : 'the driver failed unexpectedly';
      if (!(error instanceof StepFailedError)) logger.error({ err: error, job_id: job.id }, 'driver step threw');
      await setStep(job.id, step.position, { status: 'failed', finished_at: now() });
      log.write(`step ${step.name} failed: ${message}`, 'error');
      await log.flushed();
      return finish(job, { status: 'failed', code: 'step_failed', message: `Step ${step.name} failed: ${message}` });
    }
    await setStep(job.id, step.position, { status: 'succeeded', finished_at: now() });
    return null;
  }

  /** Runs a claimed job to its end; the outcome it was finished with (a lost lease or a stop throws). */
  async function execute(claimed: JobRow, signal: AbortSignal): Promise<JobOutcome> {
    const row = await leases.read(claimed.id);
    const log = openLog(row.id, await leases.lastLogSeq(row.id));
    const job = toJob(row);
    if (job === null) {
      // Never claimed (claims take only known types); a guard, should a type's handler go missing.
      log.write(`unknown job type ${row.type}`, 'error');
      await log.flushed();
      const outcome: JobOutcome = { status: 'failed', code: 'unknown_job_type', message: `No handler for job type ${row.type}.` };
      if (!(await leases.finish(row.id, outcome, now, async () => undefined))) throw new LeaseLostError();
      return outcome;
    }
    if (job.attempts > MAX_ATTEMPTS) {
      log.write(`abandoned after ${MAX_ATTEMPTS} attempts interrupted by restarts`, 'error');
      await log.flushed();
      return finish(job, { status: 'failed', code: 'abandoned', message: `The job was interrupted ${MAX_ATTEMPTS} times and was not retried again.` });
    }

    const operation = await handlers.for(job).operation(deps.database.db, job);
    const steps = await leases.steps(job.id);
    const resumeAt = steps.find((step) => step.status !== 'succeeded');
    if (job.attempts > 1 || steps.some((step) => step.status === 'succeeded')) {
      log.write(`resuming (attempt ${job.attempts}) at step ${resumeAt?.name ?? '-'} on ${deps.instanceId}`, 'warn');
    } else {
      log.write(`started on ${deps.instanceId} with driver ${driver.name}`);
    }

    const context: StepContext = { log: (message, level) => log.write(message, level), signal };
    const completed: string[] = [];
    for (const step of steps) {
      if (step.status === 'succeeded') {
        completed.push(step.name);
        continue;
      }
      const fresh = await current(job.id);
      log.step = null;
      if (fresh.cancel_requested_at !== null) {
        log.write(`cancel requested; stopping before step ${step.name}`, 'warn');
        await driver.compensate(operation, completed, context);
        await log.flushed();
        return finish(fresh, { status: 'canceled' });
      }
      log.step = step.name;
      const failed = await runStep(fresh, step, operation, context, log);
      if (failed !== null) return failed;
      completed.push(step.name);
    }
    log.step = null;
    log.write('all steps succeeded');
    await log.flushed();
    return finish(job, { status: 'succeeded' });
  }

  /** Runs a claimed job, renewing its lease; stops (the job resumes later) when the lease cannot be kept. */
  function run(job: JobRow, controller: AbortController): Promise<void> {
    const startedAt = monotonicNow();
    const ran = (outcome: JobRunOutcome, failure: JobErrorCode | null) => deps.observer?.ran(job.type, outcome, (monotonicNow() - startedAt) / 1000, failure);
    let renewedAt = monotonicNow();
    const renew = setInterval(() => {
      // Unable to renew for most of a lease (database unreachable): stop before another instance may take over.
      if (monotonicNow() - renewedAt > deps.leaseMs * 0.8) controller.abort(new LeaseLostError());
      leases
        .renew(job.id)
        .then((renewed) => {
          if (!renewed) controller.abort(new LeaseLostError());
          else renewedAt = monotonicNow();
        })
        .catch(() => undefined);
    }, Math.max(100, Math.floor(deps.leaseMs / 3)));
    return execute(job, controller.signal)
      .then(
        (outcome) => ran(outcome.status, outcome.status === 'failed' ? outcome.code : null),
        (error: unknown) => {
          if (controller.signal.aborted || error instanceof LeaseLostError) {
            logger.info({ job_id: job.id }, 'job interrupted; it will resume');
            ran('interrupted', null);
            return;
          }
          logger.error({ err: error, job_id: job.id }, 'job runner error');
          ran('error', null);
          // Leave the job to be picked up again after its lease; MAX_ATTEMPTS bounds the retries.
        },
      )
      .finally(() => clearInterval(renew));
  }

  return createClaimLoop<JobRow>({
    what: 'job',
    concurrency,
    pollIntervalMs: deps.pollIntervalMs,
    logger,
    monotonicNow,
    // A full or failing disk met here keeps /readyz at 503 as one met by a request does.
    noteFault: (error) => {
      deps.observer?.pollFailed();
      deps.database.faults.note(error);
    },
    claim: (free, busy) => leases.claimDue(free, busy, now()),
    handBack: (ids) => leases.handBack(ids),
    // Nobody else runs on this database: a job still "running" was left by a crashed process.
    beforeStart: deps.reclaimAllOnStart ? () => leases.expireAll() : undefined,
    run,
  });
}
