import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle, Db } from '../../db/database.js';
import { StepFailedError, type InfraDriver, type StepContext } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { createJobLeaseRepo } from './job-lease-repo.js';
import { handlerFor, parseParams, type JobHandlers, type JobRow, type JobType } from './job-types.js';

export interface JobRunnerDeps {
  /** The database, with what tells the dialects apart (how jobs are claimed) and its clock (for leases). */
  database: Pick<DatabaseHandle, 'db' | 'capabilities' | 'sqlNow'>;
  clock: Clock;
  driver: InfraDriver;
  logger: FastifyBaseLogger;
  handlers: JobHandlers;
  pollIntervalMs: number;
  leaseMs: number;
  instanceId: string;
  /** One process owns the database (SQLite): jobs left running were orphaned by a crash; take them at once. */
  reclaimAllOnStart: boolean;
  concurrency?: number;
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

export function createJobRunner(deps: JobRunnerDeps): JobRunner {
  const { clock, driver, logger, handlers } = deps;
  const db = deps.database.db;
  const concurrency = deps.concurrency ?? 4;
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let timer: NodeJS.Timeout | null = null;
  let stopped = true;
  let ticking: Promise<void> | null = null;

  const now = () => clock.now().toISOString();
  // Only job types this build can run are claimed: during a rolling upgrade an older instance leaves
  // newer types to the instances that know them.
  const leases = createJobLeaseRepo({ database: deps.database, instanceId: deps.instanceId, leaseMs: deps.leaseMs, knownTypes: Object.keys(handlers) });

  async function finish(
    job: JobRow,
    outcome: { status: 'succeeded' } | { status: 'failed'; code: string; message: string } | { status: 'canceled' },
  ): Promise<void> {
    const handler = handlerFor(handlers, job.type);
    await db.transaction().execute(async (trx) => {
      const at = now();
      const result = await trx
        .updateTable('jobs')
        .set({
          status: outcome.status,
          error_code: outcome.status === 'failed' ? outcome.code : outcome.status === 'canceled' ? 'canceled' : null,
          error_message:
            outcome.status === 'failed' ? outcome.message : outcome.status === 'canceled' ? 'Canceled while running.' : null,
          finished_at: at,
          updated_at: at,
          lease_owner: null,
          lease_expires_at: null,
        })
        .where('id', '=', job.id)
        .where('lease_owner', '=', deps.instanceId)
        .where('status', '=', 'running')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new LeaseLostError();
      await trx
        .updateTable('job_steps')
        .set({ status: outcome.status === 'canceled' ? 'canceled' : 'skipped' })
        .where('job_id', '=', job.id)
        .where('status', 'in', ['pending', 'running'])
        .execute();
      const fresh = await trx.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      if (outcome.status === 'succeeded') await handler.succeeded(trx, fresh, parseParams(fresh).outputs, at);
      else if (outcome.status === 'failed') await handler.failed(trx, fresh, outcome.message, at);
      else await handler.canceled(trx, fresh, at);
    });
  }

  async function execute(claimed: JobRow, signal: AbortSignal): Promise<void> {
    const handler = handlers[claimed.type as JobType];
    let job = await db.selectFrom('jobs').selectAll().where('id', '=', claimed.id).executeTakeFirstOrThrow();
    const lastLog = await db.selectFrom('job_logs').select((eb) => eb.fn.max('seq').as('seq')).where('job_id', '=', job.id).executeTakeFirst();
    let seq = Number(lastLog?.seq ?? 0);
    let logChain: Promise<unknown> = Promise.resolve();
    let currentStep: string | null = null;
    // Every write of a running job is fenced by its lease: an instance that lost the job (its lease ran
    // out and another took it) changes nothing more, however far it gets before it notices.
    const stillOwned = (q: Db) =>
      q.selectFrom('jobs').select('id').where('id', '=', job.id).where('lease_owner', '=', deps.instanceId).where('status', '=', 'running');
    const log: StepContext['log'] = (message, level = 'info') => {
      const row = { job_id: job.id, seq: ++seq, at: now(), level, step: currentStep, message: message.slice(0, 2000) };
      logChain = logChain
        .then(() =>
          db.transaction().execute(async (trx) => {
            if (await stillOwned(trx).executeTakeFirst()) await trx.insertInto('job_logs').values(row).execute();
          }),
        )
        .catch((error: unknown) => {
          logger.warn({ err: error, job_id: job.id }, 'could not store a job log line');
        });
    };
    const context: StepContext = { log, signal };

    if (!handler) {
      log(`unknown job type ${job.type}`, 'error');
      await logChain;
      await finish(job, { status: 'failed', code: 'unknown_job_type', message: `No handler for job type ${job.type}.` });
      return;
    }
    if (job.attempts > MAX_ATTEMPTS) {
      log(`abandoned after ${MAX_ATTEMPTS} attempts interrupted by restarts`, 'error');
      await logChain;
      await finish(job, { status: 'failed', code: 'abandoned', message: `The job was interrupted ${MAX_ATTEMPTS} times and was not retried again.` });
      return;
    }

    const operation = await handler.operation(db, job);
    const steps = await db.selectFrom('job_steps').selectAll().where('job_id', '=', job.id).orderBy('position').execute();
    const resumeAt = steps.find((step) => step.status !== 'succeeded');
    if (job.attempts > 1 || steps.some((step) => step.status === 'succeeded')) {
      log(`resuming (attempt ${job.attempts}) at step ${resumeAt?.name ?? '-'} on ${deps.instanceId}`, 'warn');
    } else {
      log(`started on ${deps.instanceId} with driver ${driver.name}`);
    }

    const setStep = async (position: number, changes: { status: string; started_at?: string | null; finished_at?: string }) => {
      const result = await db
        .updateTable('job_steps')
        .set(changes)
        .where('job_id', '=', job.id)
        .where('position', '=', position)
        .where((eb) => eb.exists(stillOwned(db)))
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) throw new LeaseLostError();
    };

    const completed: string[] = [];
    for (const step of steps) {
      if (step.status === 'succeeded') {
        completed.push(step.name);
        continue;
      }
      job = await db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
      if (job.lease_owner !== deps.instanceId || job.status !== 'running') throw new LeaseLostError();
      currentStep = null;
      if (job.cancel_requested_at !== null) {
        log(`cancel requested; stopping before step ${step.name}`, 'warn');
        await driver.compensate(operation, completed, context);
        await logChain;
        await finish(job, { status: 'canceled' });
        return;
      }
      currentStep = step.name;
      await setStep(step.position, { status: 'running', started_at: now() });
      try {
        const outputs = await driver.runStep(operation, step.name, context);
        if (Object.keys(outputs).length > 0) {
          const params = parseParams(job);
          const saved = await db
            .updateTable('jobs')
            .set({ params: JSON.stringify({ ...params, outputs: { ...params.outputs, ...outputs } }) })
            .where('id', '=', job.id)
            .where('lease_owner', '=', deps.instanceId)
            .executeTakeFirst();
          if (Number(saved.numUpdatedRows) !== 1) throw new LeaseLostError();
        }
      } catch (error) {
        if (signal.aborted) {
          // Shutdown or lost lease: the step runs again, from the start, wherever the job resumes.
          await setStep(step.position, { status: 'pending', started_at: null }).catch(() => undefined);
          await logChain;
          throw error;
        }
        const message = error instanceof StepFailedError ? error.message : 'the driver failed unexpectedly';
        if (!(error instanceof StepFailedError)) logger.error({ err: error, job_id: job.id }, 'driver step threw');
        await setStep(step.position, { status: 'failed', finished_at: now() });
        log(`step ${step.name} failed: ${message}`, 'error');
        await logChain;
        await finish(job, { status: 'failed', code: 'step_failed', message: `Step ${step.name} failed: ${message}` });
        return;
      }
      await setStep(step.position, { status: 'succeeded', finished_at: now() });
      completed.push(step.name);
    }
    currentStep = null;
    log('all steps succeeded');
    await logChain;
    job = await db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
    await finish(job, { status: 'succeeded' });
  }

  function launch(job: JobRow): void {
    const controller = new AbortController();
    let renewedAt = Date.now();
    const renew = setInterval(() => {
      // Unable to renew for most of a lease (database unreachable): stop before another instance may take over.
      if (Date.now() - renewedAt > deps.leaseMs * 0.8) controller.abort(new LeaseLostError());
      leases
        .renew(job.id)
        .then((renewed) => {
          if (!renewed) controller.abort(new LeaseLostError());
          else renewedAt = Date.now();
        })
        .catch(() => undefined);
    }, Math.max(100, Math.floor(deps.leaseMs / 3)));
    const done = execute(job, controller.signal)
      .catch((error: unknown) => {
        if (controller.signal.aborted || error instanceof LeaseLostError) {
          logger.info({ job_id: job.id }, 'job interrupted; it will resume');
          return;
        }
        logger.error({ err: error, job_id: job.id }, 'job runner error');
        // Leave the job to be picked up again after its lease; MAX_ATTEMPTS bounds the retries.
      })
      .finally(() => {
        clearInterval(renew);
        running.delete(job.id);
      });
    running.set(job.id, { controller, done });
  }

  async function tick(): Promise<void> {
    if (ticking) return ticking;
    ticking = (async () => {
      const free = concurrency - running.size;
      if (free <= 0 || stopped) return;
      // Never our own running jobs, even if their lease lapsed (renewals failing): one execution per job here.
      const claimed = await leases.claimDue(free, [...running.keys()], now());
      // stop() came while we were claiming: give these back untouched rather than start and interrupt them.
      if (stopped) await leases.handBack(claimed.map((job) => job.id));
      else for (const job of claimed) launch(job);
    })()
      .catch((error: unknown) => logger.error({ err: error }, 'job poll failed'))
      .finally(() => {
        ticking = null;
      });
    return ticking;
  }

  return {
    tick,
    async start() {
      if (!stopped) return;
      stopped = false;
      if (deps.reclaimAllOnStart) {
        // Nobody else runs on this database: a job still "running" was left by a crashed process.
        await leases.expireAll();
      }
      const loop = async () => {
        await tick();
        if (!stopped) timer = setTimeout(loop, deps.pollIntervalMs);
      };
      timer = setTimeout(loop, 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await ticking;
      const jobs = [...running.entries()];
      for (const [, entry] of jobs) entry.controller.abort();
      await Promise.all(jobs.map(([, entry]) => entry.done));
      // Hand the interrupted jobs back at once instead of waiting for their leases to run out.
      await leases.handBack(jobs.map(([id]) => id)).catch(() => undefined);
    },
  };
}
