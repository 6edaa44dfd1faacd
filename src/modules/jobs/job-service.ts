import type { ResourceFence } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';
import { AppError, conflict, notFound } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { createJobRepo, type JobFilter, type JobLogRow, type JobStepRow } from './job-repo.js';
import { FINISHED_STATUSES, toJob, type JobHandlerRegistry, type JobRow, type JobStatus } from './job-types.js';

export interface JobView {
  id: string;
  type: string;
  status: string;
  resource_type: string;
  resource_id: string;
  cluster_id: string | null;
  steps: Array<{ name: string; status: string; started_at: string | null; finished_at: string | null }>;
  error: { code: string; message: string } | null;
  cancel_requested_at: string | null;
  attempts: number;
  created_by: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export type JobDetailView = JobView & { logs: Array<{ at: string; level: string; step: string | null; message: string }> };

const LOG_LIMIT = 2000;

export function presentJob(row: JobRow, steps: JobStepRow[]): JobView {
  return {
    id: row.id,
    type: row.type,
    status: row.status,
    resource_type: row.resource_type,
    resource_id: row.resource_id,
    cluster_id: row.cluster_id,
    steps: steps
      .filter((step) => step.job_id === row.id)
      .map((step) => ({ name: step.name, status: step.status, started_at: step.started_at, finished_at: step.finished_at })),
    error: row.error_code !== null ? { code: row.error_code, message: row.error_message ?? '' } : null,
    cancel_requested_at: row.cancel_requested_at,
    attempts: row.attempts,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
  };
}

function presentJobDetail(row: JobRow, steps: JobStepRow[], logs: JobLogRow[]): JobDetailView {
  return { ...presentJob(row, steps), logs: logs.map((line) => ({ at: line.at, level: line.level, step: line.step, message: line.message })) };
}

export function createJobService(deps: { db: Db; clock: Clock; handlers: JobHandlerRegistry }) {
  const repo = createJobRepo(deps.db);

  async function getView(accountId: string, id: string): Promise<JobDetailView> {
    const row = await repo.get(accountId, id);
    if (!row) throw notFound('job', id);
    return presentJobDetail(row, await repo.stepsOf([row.id]), await repo.logsOf(row.id, LOG_LIMIT));
  }

  return {
    async list(accountId: string, query: JobFilter & { limit?: number; cursor?: string }, fence: ResourceFence | null = null) {
      const page = pageRequest(query);
      const rows = await repo.list(accountId, query, page, fence);
      const steps = await repo.stepsOf(rows.slice(0, page.limit).map((row) => row.id));
      return toPage(rows, page, (row) => presentJob(row, steps));
    },

    get: getView,

    /**
     * queued → canceled at once (the resource goes back as if the job never ran); running → the runner
     * stops before its next step; finished → 409.
     */
    async cancel(accountId: string, id: string): Promise<{ status: 200 | 202; job: JobDetailView }> {
      const row = await repo.get(accountId, id);
      if (!row) throw notFound('job', id);
      if (FINISHED_STATUSES.includes(row.status as JobStatus)) {
        throw conflict(`Job ${id} has already finished (${row.status}); there is nothing to cancel.`);
      }
      const now = deps.clock.now().toISOString();
      const canceledAtOnce = await deps.db.transaction().execute(async (trx) => {
        if (!(await repo.cancelQueued(trx, id, now))) return false;
        const fresh = toJob((await repo.getById(trx, id)) ?? row);
        // Only an instance that knows the job's type can put its resource back (during a rolling upgrade,
        // a newer one): this one refuses, and the cancel is rolled back.
        if (fresh === null) {
          throw new AppError('service_unavailable', `This instance cannot cancel jobs of type ${row.type}; retry shortly.`, {}, { 'retry-after': '5' });
        }
        await deps.handlers.for(fresh).canceled(trx, fresh, now);
        return true;
      });
      if (canceledAtOnce) return { status: 200, job: await getView(accountId, id) };
      if (!(await repo.requestCancel(id, now))) {
        const current = await repo.get(accountId, id);
        if (current && FINISHED_STATUSES.includes(current.status as JobStatus)) {
          throw conflict(`Job ${id} has already finished (${current.status}); there is nothing to cancel.`);
        }
      }
      return { status: 202, job: await getView(accountId, id) };
    },
  };
}
