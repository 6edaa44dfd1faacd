import { principalId, type Principal } from '../../auth/principal.js';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import type { EventLog } from '../events/event-log.js';
import type { EventInput } from '../events/event-types.js';
import { createJobRepo } from './job-repo.js';
import { presentJob, type JobView } from './job-service.js';
import type { JobInputs, JobResourceType, JobType } from './job-types.js';

/** What a job will do: its input and the driver's steps for its operation. */
export interface JobPlan<T extends JobType> {
  input: JobInputs[T];
  steps: readonly string[];
}

export interface JobRequest<T extends JobType, R> {
  type: T;
  /** Who asked: the job is in their account, and created by them (a user id or an API key id). */
  principal: Principal;
  resource: { type: JobResourceType; id: string };
  clusterId: string | null;
  /** The request's instant, when it has already made ids or rows from it (they and the job then agree); else now. */
  now?: string;
  /**
   * Inside the transaction, before the job is queued: takes the resource for the job (a conditional
   * write on it, and whatever comes with the operation: a row created, pools marked). Returns the job's
   * plan, or null when the resource is not free now (the transaction then queues nothing). `job` is the
   * id and time the job will have, for rows that name their job.
   */
  claim(trx: Db, job: { id: string; now: string }): Promise<JobPlan<T> | null>;
  /** Inside the same transaction, once the job is queued: the resource as the job now holds it. */
  readBack(trx: Db): Promise<R>;
  /** The audit events the operation records (in the principal's account), in the same transaction as its job. */
  events?: (job: { id: string; now: string }) => Array<Omit<EventInput, 'accountId'>>;
}

export interface StartedJob<R> {
  resource: R;
  /** The job as queued, with its steps pending. */
  job: JobView;
}

/**
 * The one way an operation starts a job (clusters, node pools, apps, deploys, DAG syncs): claim the
 * resource, queue the job and its steps, and read the resource back, all in one transaction, so a
 * resource is never held by a job that does not exist, nor a job queued for a resource it does not hold.
 * Nothing slow happens inside: the caller has asked the driver for the steps before.
 */
export function createJobStarter(deps: { db: Db; clock: Clock; events?: Pick<EventLog, 'record'> }) {
  const jobs = createJobRepo(deps.db);

  return async function startJob<T extends JobType, R>(request: JobRequest<T, R>): Promise<StartedJob<R> | null> {
    const now = request.now ?? deps.clock.now().toISOString();
    const id = newId('job', Date.parse(now));
    return deps.db.transaction().execute(async (trx) => {
      const plan = await request.claim(trx, { id, now });
      if (plan === null) return null;
      const queued = await jobs.enqueue(trx, {
        id,
        accountId: request.principal.accountId,
        type: request.type,
        resourceType: request.resource.type,
        resourceId: request.resource.id,
        clusterId: request.clusterId,
        input: plan.input,
        createdBy: principalId(request.principal),
        steps: plan.steps,
        now,
      });
      const recorded = request.events?.({ id, now }) ?? [];
      if (recorded.length > 0 && deps.events === undefined) throw new Error(`job ${request.type} records events, but its starter has no event log`);
      for (const event of recorded) await deps.events?.record(trx, { ...event, accountId: request.principal.accountId });
      return { resource: await request.readBack(trx), job: presentJob(queued.row, queued.steps) };
    });
  };
}

export type StartJob = ReturnType<typeof createJobStarter>;
