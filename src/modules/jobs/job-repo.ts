import type { Kysely, Selectable, Updateable } from 'kysely';
import type { ResourceFence } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';
import { idsIn } from '../../db/fence-sql.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { Database, JobLogTable, JobStepTable } from '../../db/schema.js';
import type { JobErrorCode, JobInputs, JobParams, JobResourceType, JobRow, JobStatus, JobType } from './job-types.js';

export type JobStepRow = Selectable<JobStepTable>;
export type JobLogRow = Selectable<JobLogTable>;

export interface NewJob<T extends JobType> {
  id: string;
  accountId: string;
  type: T;
  resourceType: JobResourceType;
  resourceId: string;
  clusterId: string | null;
  input: JobInputs[T];
  createdBy: string;
  steps: readonly string[];
  now: string;
}

export interface JobFilter {
  resource_id?: string | undefined;
  resource_type?: string | undefined;
  status?: JobStatus | undefined;
  type?: JobType | undefined;
}

export function createJobRepo(db: Db) {
  return {
    /** Queues a job with its planned steps, inside the caller's transaction (the one that claims its resource). */
    async enqueue<T extends JobType>(trx: Db, job: NewJob<T>): Promise<{ row: JobRow; steps: JobStepRow[] }> {
      const params: JobParams<T> = { input: job.input, outputs: {} };
      const row: JobRow = {
        id: job.id,
        account_id: job.accountId,
        type: job.type,
        status: 'queued',
        resource_type: job.resourceType,
        resource_id: job.resourceId,
        cluster_id: job.clusterId,
        params: JSON.stringify(params),
        error_code: null,
        error_message: null,
        cancel_requested_at: null,
        lease_owner: null,
        lease_expires_at: null,
        attempts: 0,
        created_by: job.createdBy,
        created_at: job.now,
        updated_at: job.now,
        started_at: null,
        finished_at: null,
      };
      const steps: JobStepRow[] = job.steps.map((name, position) => ({ job_id: row.id, position, name, status: 'pending', started_at: null, finished_at: null }));
      await trx.insertInto('jobs').values(row).execute();
      await trx.insertInto('job_steps').values(steps).execute();
      return { row, steps };
    },

    async list(accountId: string, filter: JobFilter, page: KeysetPage, fence: ResourceFence | null = null): Promise<JobRow[]> {
      let query = db.selectFrom('jobs').selectAll().where('account_id', '=', accountId);
      // A fenced key: jobs on its clusters (their apps' jobs carry the cluster too), and jobs of its apps
      // (the app's own, and its DAG syncs) wherever they run.
      if (fence !== null) {
        const apps = [...fence.apps];
        query = query.where((eb) =>
          eb.or([
            ...idsIn(eb, 'cluster_id', fence.clusters),
            ...(apps.length === 0
              ? []
              : [
                  eb.and([eb('resource_type', '=', 'app'), eb('resource_id', 'in', apps)]),
                  eb.and([eb('resource_type', '=', 'dag_bundle'), eb('resource_id', 'in', eb.selectFrom('dag_bundles').select('id').where('app_id', 'in', apps))]),
                ]),
          ]),
        );
      }
      if (filter.resource_id !== undefined) query = query.where('resource_id', '=', filter.resource_id);
      if (filter.resource_type !== undefined) query = query.where('resource_type', '=', filter.resource_type);
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (filter.type !== undefined) query = query.where('type', '=', filter.type);
      return newestFirst(query, 'id', page).execute();
    },

    async get(accountId: string, id: string): Promise<JobRow | undefined> {
      return db.selectFrom('jobs').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },

    /**
     * Jobs waiting and running in the whole database, every account and (PostgreSQL) every instance alike:
     * the queue depth GET /metrics reports, read when it is scraped (jobs_status_idx serves it).
     */
    async countActive(): Promise<{ queued: number; running: number }> {
      const rows = await db
        .selectFrom('jobs')
        .select((eb) => ['status', eb.fn.countAll<number | string>().as('count')])
        .where('status', 'in', ['queued', 'running'])
        .groupBy('status')
        .execute();
      const count = (status: JobStatus) => Number(rows.find((row) => row.status === status)?.count ?? 0);
      return { queued: count('queued'), running: count('running') };
    },

    /** A job by id alone, in the caller's transaction (it holds the job's resource, so the account is already known). */
    async getById(trx: Db, id: string): Promise<JobRow | undefined> {
      return trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async stepsOf(jobIds: string[]): Promise<JobStepRow[]> {
      if (jobIds.length === 0) return [];
      return db.selectFrom('job_steps').selectAll().where('job_id', 'in', jobIds).orderBy('job_id').orderBy('position').execute();
    },

    async logsOf(jobId: string, limit: number): Promise<JobLogRow[]> {
      const newest = await db.selectFrom('job_logs').selectAll().where('job_id', '=', jobId).orderBy('seq', 'desc').limit(limit).execute();
      return newest.reverse();
    },

    /** queued → canceled in one conditional write; false when the runner took the job first. */
    async cancelQueued(trx: Db, id: string, now: string, message = 'Canceled before it started.'): Promise<boolean> {
      const code: JobErrorCode = 'canceled';
      const result = await trx
        .updateTable('jobs')
        .set({ status: 'canceled', cancel_requested_at: now, finished_at: now, updated_at: now, error_code: code, error_message: message })
        .where('id', '=', id)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx.updateTable('job_steps').set({ status: 'canceled' }).where('job_id', '=', id).execute();
      return true;
    },

    /** Asks a running job to stop before its next step; false when it is no longer running. */
    async requestCancel(id: string, now: string): Promise<boolean> {
      const result = await db
        .updateTable('jobs')
        .set({ cancel_requested_at: now, updated_at: now })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .where('cancel_requested_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export type JobRepo = ReturnType<typeof createJobRepo>;

/** The status of one of a job's steps, by name (a handler asking how far its job got). */
export async function stepStatus(trx: Db, jobId: string, name: string): Promise<string | undefined> {
  const step = await trx.selectFrom('job_steps').select('status').where('job_id', '=', jobId).where('name', '=', name).executeTakeFirst();
  return step?.status;
}

/** Rows a job holds while it runs (`active_job_id`): one job at a time per cluster or app. */
type HeldByJobs = 'clusters' | 'apps';

/**
 * Claims a cluster or app for one job: succeeds only when no other job holds it and its status allows
 * the operation. One conditional write, so two concurrent requests cannot both win.
 */
export async function claimForJob<T extends HeldByJobs>(
  trx: Db,
  table: T,
  target: { accountId: string; id: string },
  jobId: string,
  allowed: readonly string[],
  changes: Updateable<Database[T]>,
): Promise<boolean> {
  const result = await heldTable(trx, table)
    .set({ ...(changes as Updateable<HeldRow>), active_job_id: jobId })
    .where('account_id', '=', target.accountId)
    .where('id', '=', target.id)
    .where('active_job_id', 'is', null)
    .where('status', 'in', [...allowed])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Gives the cluster or app back when its job ends (only if this job still holds it). */
export async function releaseFromJob<T extends HeldByJobs>(trx: Db, table: T, id: string, jobId: string, changes: Updateable<Database[T]>, now: string): Promise<void> {
  await heldTable(trx, table)
    .set({ ...(changes as Updateable<HeldRow>), active_job_id: null, updated_at: now })
    .where('id', '=', id)
    .where('active_job_id', '=', jobId)
    .execute();
}

/** An UPDATE on a held table, typed by the columns they all share (callers are typed by their own table). */
function heldTable(trx: Db, table: HeldByJobs) {
  return (trx as unknown as Kysely<Record<HeldByJobs, HeldRow>>).updateTable(table);
}

/** The columns a claim reads and writes, common to every table in HeldByJobs. */
interface HeldRow {
  id: string;
  account_id: string;
  status: string;
  active_job_id: string | null;
  updated_at: string;
}
