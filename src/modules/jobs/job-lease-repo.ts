import type { ExpressionBuilder } from 'kysely';
import type { DatabaseHandle, Db } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import type { JobLogRow, JobStepRow } from './job-repo.js';
import type { JobErrorCode, JobRow } from './job-types.js';

/**
 * The job runner's side of the jobs table: taking due jobs under a lease, keeping the lease alive, every
 * write of a job while it runs, and giving jobs back. A lease is (lease_owner, lease_expires_at); every
 * write of a running job is fenced by lease_owner, so once a lease has passed to another instance the old
 * owner changes nothing more (each fenced write says whether it still held the lease).
 *
 * Lease times come from the database's clock (`sqlNow`), never from an instance's: with several
 * instances on several hosts, the one that stamps a lease and the one that judges it expired are
 * different machines, and their clocks may disagree by more than a lease is long.
 */
export interface JobLeaseRepoDeps {
  database: Pick<DatabaseHandle, 'db' | 'capabilities' | 'sqlNow'>;
  instanceId: string;
  leaseMs: number;
  /** Only job types this build can run are taken (during a rolling upgrade, newer types wait for newer instances). */
  knownTypes: string[];
}

export interface JobLeaseRepo {
  /** Takes up to `limit` due jobs (queued, or running under an expired lease), never one in `exclude`. */
  claimDue(limit: number, exclude: readonly string[], at: string): Promise<JobRow[]>;
  /** Extends this instance's lease on a running job; false when the lease is no longer ours. */
  renew(jobId: string): Promise<boolean>;
  /** Gives interrupted jobs back at once (graceful stop): due immediately, and not counted as an attempt. */
  handBack(jobIds: readonly string[]): Promise<void>;
  /** Marks every running job's lease expired (one process owns the database and has just started). */
  expireAll(): Promise<void>;

  /** The job as stored now. */
  read(jobId: string): Promise<JobRow>;
  /** Its steps, in order. */
  steps(jobId: string): Promise<JobStepRow[]>;
  /** The sequence number of its last log line (0: none yet). */
  lastLogSeq(jobId: string): Promise<number>;
  /** Appends a log line while the lease is ours; false (nothing written) once it is not. */
  appendLog(line: JobLogRow): Promise<boolean>;
  setStep(jobId: string, position: number, changes: StepChanges): Promise<boolean>;
  /** Replaces the job's params (what its steps learned is added to them). */
  saveParams(jobId: string, params: string): Promise<boolean>;
  /**
   * Ends the job in one transaction: its outcome, its unfinished steps skipped (or canceled), and then
   * `settle` with the finished job, which changes its resource in the same transaction. False (nothing
   * written) when the lease is no longer ours.
   */
  finish(jobId: string, outcome: JobOutcome, now: () => string, settle: (trx: Db, job: JobRow, at: string) => Promise<void>): Promise<boolean>;
}

export interface StepChanges {
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  started_at?: string | null;
  finished_at?: string;
}

export type JobOutcome = { status: 'succeeded' } | { status: 'failed'; code: JobErrorCode; message: string } | { status: 'canceled' };

export function createJobLeaseRepo(deps: JobLeaseRepoDeps): JobLeaseRepo {
  const { db, capabilities, sqlNow } = deps.database;
  const EXPIRED = new Date(0).toISOString();

  const isDue = (eb: ExpressionBuilder<Database, 'jobs'>) =>
    eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<', sqlNow())])]);

  /** The job, if it is still running under this instance's lease: the fence of every write of a running job. */
  const stillOwned = (q: Db, jobId: string) =>
    q.selectFrom('jobs').select('id').where('id', '=', jobId).where('lease_owner', '=', deps.instanceId).where('status', '=', 'running');

  function dueJobs(q: Db, limit: number, exclude: readonly string[]) {
    let query = q.selectFrom('jobs').selectAll().where(isDue).where('type', 'in', deps.knownTypes);
    if (exclude.length > 0) query = query.where('id', 'not in', [...exclude]);
    return query.orderBy('id').limit(limit);
  }

  /** What taking a job writes, whichever way it is taken: running, under this instance's lease, one more attempt. */
  function takenUnderOurLease(eb: ExpressionBuilder<Database, 'jobs'>, at: string) {
    return {
      status: 'running' as const,
      lease_owner: deps.instanceId,
      lease_expires_at: sqlNow(deps.leaseMs),
      attempts: eb('attempts', '+', 1),
      started_at: eb.fn.coalesce('started_at', eb.val(at)),
      updated_at: at,
    };
  }

  /**
   * PostgreSQL: one short transaction locks the due rows it selects (rows another instance is claiming
   * or renewing at that moment are skipped, not waited for), marks them running under our lease and
   * commits. No two instances can lock the same row, so each job is taken by exactly one of them.
   */
  async function claimWithSkipLocked(limit: number, exclude: readonly string[], at: string): Promise<JobRow[]> {
    return db.transaction().execute(async (trx) => {
      const locked = await dueJobs(trx, limit, exclude).clearSelect().select('id').forUpdate().skipLocked().execute();
      if (locked.length === 0) return [];
      return trx
        .updateTable('jobs')
        .set((eb) => takenUnderOurLease(eb, at))
        .where('id', 'in', locked.map((row) => row.id))
        .returningAll()
        .execute();
    });
  }

  /**
   * Without row locks (SQLite): each candidate is taken by a conditional UPDATE that only succeeds
   * while the job is still due, so of two claimers at most one changes the row.
   */
  async function claimWithConditionalUpdate(limit: number, exclude: readonly string[], at: string): Promise<JobRow[]> {
    const candidates = await dueJobs(db, limit * 2, exclude).execute();
    const claimed: JobRow[] = [];
    for (const job of candidates) {
      if (claimed.length >= limit) break;
      const result = await db
        .updateTable('jobs')
        .set((eb) => takenUnderOurLease(eb, at))
        .where('id', '=', job.id)
        .where('type', 'in', deps.knownTypes)
        .where(isDue)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) claimed.push(job);
    }
    return claimed;
  }

  return {
    claimDue: capabilities.supportsSkipLocked ? claimWithSkipLocked : claimWithConditionalUpdate,

    async renew(jobId) {
      const result = await db
        .updateTable('jobs')
        .set({ lease_expires_at: sqlNow(deps.leaseMs) })
        .where('id', '=', jobId)
        .where('lease_owner', '=', deps.instanceId)
        .where('status', '=', 'running')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async handBack(jobIds) {
      if (jobIds.length === 0) return;
      await db
        .updateTable('jobs')
        // A graceful hand-back is not a crash: it does not count towards MAX_ATTEMPTS.
        .set((eb) => ({ lease_owner: null, lease_expires_at: EXPIRED, attempts: eb('attempts', '-', 1) }))
        .where('id', 'in', [...jobIds])
        .where('lease_owner', '=', deps.instanceId)
        .where('status', '=', 'running')
        .execute();
    },

    async expireAll() {
      await db.updateTable('jobs').set({ lease_expires_at: EXPIRED }).where('status', '=', 'running').execute();
    },

    read: (jobId) => db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirstOrThrow(),

    steps: (jobId) => db.selectFrom('job_steps').selectAll().where('job_id', '=', jobId).orderBy('position').execute(),

    async lastLogSeq(jobId) {
      const last = await db.selectFrom('job_logs').select((eb) => eb.fn.max('seq').as('seq')).where('job_id', '=', jobId).executeTakeFirst();
      return Number(last?.seq ?? 0);
    },

    appendLog: (line) =>
      db.transaction().execute(async (trx) => {
        if (!(await stillOwned(trx, line.job_id).executeTakeFirst())) return false;
        await trx.insertInto('job_logs').values(line).execute();
        return true;
      }),

    async setStep(jobId, position, changes) {
      const result = await db
        .updateTable('job_steps')
        .set(changes)
        .where('job_id', '=', jobId)
        .where('position', '=', position)
        .where((eb) => eb.exists(stillOwned(db, jobId)))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async saveParams(jobId, params) {
      const result = await db.updateTable('jobs').set({ params }).where('id', '=', jobId).where('lease_owner', '=', deps.instanceId).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    finish: (jobId, outcome, now, settle) =>
      db.transaction().execute(async (trx) => {
        const at = now();
        const result = await trx
          .updateTable('jobs')
          .set({
            status: outcome.status,
            error_code: outcome.status === 'failed' ? outcome.code : outcome.status === 'canceled' ? 'canceled' : null,
            error_message: outcome.status === 'failed' ? outcome.message : outcome.status === 'canceled' ? 'Canceled while running.' : null,
            finished_at: at,
            updated_at: at,
            lease_owner: null,
            lease_expires_at: null,
          })
          .where('id', '=', jobId)
          .where('lease_owner', '=', deps.instanceId)
          .where('status', '=', 'running')
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await trx
          .updateTable('job_steps')
          .set({ status: outcome.status === 'canceled' ? 'canceled' : 'skipped' })
          .where('job_id', '=', jobId)
          .where('status', 'in', ['pending', 'running'])
          .execute();
        await settle(trx, await trx.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirstOrThrow(), at);
        return true;
      }),
  };
}
