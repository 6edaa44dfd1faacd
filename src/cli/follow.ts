import { SkaledataProblem, type Job, type JobStep, type JobSummary } from '../sdk/index.js';
import { CliError, EXIT } from './errors.js';
import type { Output, Session } from './io.js';

/** How long a --wait polls at most (overridden by --timeout). */
export const DEFAULT_WAIT_SECONDS = 1800;
const INTERVAL_MS = 500;

export interface Fallback<T> {
  /** Named in the one line that says the wait changed course, e.g. "the cluster's status". */
  what: string;
  wait: (options: { timeoutMs: number; intervalMs: number; onChange: (resource: { status: string }) => void }) => Promise<T>;
}

export type Followed<T> = { via: 'job'; job: Job } | { via: 'resource'; resource: T };

/**
 * Follows accepted work to its end: the job when the key may read it (jobs:read), else what the key
 * can read about the resource (the seed's automation and CI/CD keys have no jobs:read), saying so in
 * one line. When the key can read neither, the work is left running and the CLI exits 7.
 */
export async function follow<T>(
  { client, out }: Session,
  job: JobSummary,
  fallback: Fallback<T> | null,
  timeoutSeconds: number,
  accepted: string,
): Promise<Followed<T>> {
  const timeoutMs = timeoutSeconds * 1000;
  out.progress(`${accepted}: job ${job.id} (${job.type}) ${job.status}`, true);
  try {
    const done = await client.waitForJob(job.id, { timeoutMs, intervalMs: INTERVAL_MS, onStep: stepPrinter(out) });
    out.progress(`job ${done.id} succeeded`, true);
    return { via: 'job', job: done };
  } catch (error) {
    if (!missingScope(error, 'jobs:read')) throw error;
  }
  if (!fallback) throw notFollowed(accepted, job, ['jobs:read']);
  out.note(`this key cannot read jobs (no jobs:read): waiting on ${fallback.what} instead`);
  try {
    const resource = await fallback.wait({ timeoutMs, intervalMs: INTERVAL_MS, onChange: (current) => out.progress(`${fallback.what}: ${current.status}`, true) });
    return { via: 'resource', resource };
  } catch (error) {
    const scope = error instanceof SkaledataProblem && error.code === 'insufficient_scope' ? error.required_scope : null;
    if (scope) throw notFollowed(accepted, job, ['jobs:read', scope]);
    throw error;
  }
}

function stepPrinter(out: Output): (step: JobStep, job: Job) => void {
  return (step, job) => {
    const index = job.steps.findIndex((item) => item.name === step.name) + 1;
    const finished = !['pending', 'running'].includes(step.status);
    out.progress(`[${index}/${job.steps.length}] ${step.name}: ${step.status}`, finished);
  };
}

const missingScope = (error: unknown, scope: string): boolean =>
  error instanceof SkaledataProblem && error.code === 'insufficient_scope' && error.required_scope === scope;

function notFollowed(accepted: string, job: JobSummary, scopes: string[]): CliError {
  return new CliError(
    EXIT.notFollowed,
    'not_followed',
    `${accepted} (job ${job.id}), but this key cannot follow it: it lacks ${scopes.join(' and ')}`,
    `the work goes on; to follow it, use a key that also holds ${scopes.join(' or ')}, or drop --wait`,
    { job_id: job.id, missing_scopes: scopes },
  );
}
