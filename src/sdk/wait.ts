import type { Client } from 'openapi-fetch';
import { SkaledataConnectionError, SkaledataOperationError, SkaledataProblem, SkaledataTimeoutError } from './errors.js';
import type { paths } from './generated/openapi.js';
import type { App, Cluster, DagBundle, Deploy, Job, JobStep } from './types.js';

export interface WaitOptions {
  /** Give up after this long (default 30 minutes); the operation itself goes on. */
  timeoutMs?: number;
  /** Time between polls (default 1 s). */
  intervalMs?: number;
  signal?: AbortSignal;
}

export interface JobWaitOptions extends WaitOptions {
  /** Called each time a step changes status (a step seen for the first time counts once it is not pending). */
  onStep?: (step: JobStep, job: Job) => void;
}

export interface StatusWaitOptions<T> extends WaitOptions {
  /** Called with the resource each time its status changes (and on the first poll). */
  onChange?: (resource: T) => void;
}

/**
 * Following work to its end. `waitForJob` needs jobs:read; the others follow the resource itself, for
 * keys that cannot read jobs (the seed's "Cluster management automation" and "CI/CD deploy pipeline").
 */
export interface Waiters {
  /** Polls GET /jobs/{id} until succeeded (returns the job), failed or canceled (throws SkaledataOperationError). */
  waitForJob(id: string, options?: JobWaitOptions): Promise<Job>;
  /** Polls GET /clusters/{id} (clusters:read) until no job holds it; `failed` throws. */
  waitForCluster(id: string, options?: StatusWaitOptions<Cluster>): Promise<Cluster>;
  /** Polls GET /apps/{id} (apps:read) until no job holds it; `failed` throws. */
  waitForApp(id: string, options?: StatusWaitOptions<App>): Promise<App>;
  /** Polls GET /apps/{id}/deploys/{deploy} (apps:deploy) until it succeeded; failed, canceled or superseded throw. */
  waitForDeploy(appId: string, deployId: string, options?: StatusWaitOptions<Deploy>): Promise<Deploy>;
  /** Polls GET /apps/{id}/dags (apps:read) until the bundle is synced; failed throws. */
  waitForDagBundle(appId: string, bundleId: string, options?: StatusWaitOptions<DagBundle>): Promise<DagBundle>;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_INTERVAL_MS = 1_000;
const BUSY_CLUSTER = new Set(['provisioning', 'upgrading', 'deleting']);
const BUSY_APP = new Set(['deploying', 'restarting', 'deleting']);

export function createWaiters(api: Client<paths>): Waiters {
  async function waitForJob(id: string, options: JobWaitOptions = {}): Promise<Job> {
    const seen = new Map<string, string>();
    const job = await poll(options, async (signal) => {
      const { data } = await api.GET('/jobs/{id}', { params: { path: { id } }, signal });
      const current = data as Job;
      for (const step of current.steps) {
        if (seen.get(step.name) === step.status || (step.status === 'pending' && !seen.has(step.name))) continue;
        seen.set(step.name, step.status);
        options.onStep?.(step, current);
      }
      return ['succeeded', 'failed', 'canceled'].includes(current.status) ? current : undefined;
    });
    if (job.status === 'succeeded') return job;
    const reason = job.error ?? null;
    throw new SkaledataOperationError(`job ${job.id} (${job.type}) ${job.status}${reason ? `: ${reason.message}` : ''}`, {
      code: job.status === 'canceled' ? 'job_canceled' : 'job_failed',
      status: job.status,
      reason,
      jobId: job.id,
    });
  }

  async function waitForCluster(id: string, options: StatusWaitOptions<Cluster> = {}): Promise<Cluster> {
    const cluster = await pollStatus(options, async (signal) => {
      const { data } = await api.GET('/clusters/{id}', { params: { path: { id } }, signal });
      const current = data as Cluster;
      return { value: current, done: current.active_job_id === null && !BUSY_CLUSTER.has(current.status) };
    });
    if (cluster.status === 'failed') throw resourceFailed(`cluster ${cluster.name} (${cluster.id})`, cluster.status, cluster.status_reason);
    return cluster;
  }

  async function waitForApp(id: string, options: StatusWaitOptions<App> = {}): Promise<App> {
    const app = await pollStatus(options, async (signal) => {
      const { data } = await api.GET('/apps/{id}', { params: { path: { id } }, signal });
      const current = data as App;
      return { value: current, done: current.active_job_id === null && !BUSY_APP.has(current.status) };
    });
    if (app.status === 'failed') throw resourceFailed(`app ${app.name} (${app.id})`, app.status, app.status_reason);
    return app;
  }

  async function waitForDeploy(appId: string, deployId: string, options: StatusWaitOptions<Deploy> = {}): Promise<Deploy> {
    const deploy = await pollStatus(options, async (signal) => {
      const { data } = await api.GET('/apps/{id}/deploys/{deploy}', { params: { path: { id: appId, deploy: deployId } }, signal });
      const current = data as Deploy;
      return { value: current, done: !['queued', 'in_progress'].includes(current.status) };
    });
    if (deploy.status === 'succeeded') return deploy;
    throw new SkaledataOperationError(`deploy ${deploy.id} of ${deploy.image} ${deploy.status}${deploy.error ? `: ${deploy.error}` : ''}`, {
      code: `deploy_${deploy.status}`,
      status: deploy.status,
      jobId: deploy.job_id,
    });
  }

  async function waitForDagBundle(appId: string, bundleId: string, options: StatusWaitOptions<DagBundle> = {}): Promise<DagBundle> {
    const bundle = await pollStatus(options, async (signal) => {
      // Newest first: a bundle being followed is on the first page.
      const { data } = await api.GET('/apps/{id}/dags', { params: { path: { id: appId }, query: { limit: 200 } }, signal });
      const current = data?.data.find((item) => item.id === bundleId);
      if (!current) throw new SkaledataOperationError(`DAG bundle ${bundleId} is not listed for app ${appId}`, { code: 'not_found', status: 'unknown' });
      return { value: current, done: current.status !== 'syncing' };
    });
    if (bundle.status === 'synced') return bundle;
    throw new SkaledataOperationError(`DAG bundle v${bundle.version} (${bundle.id}) ${bundle.status}`, { code: 'resource_failed', status: bundle.status, jobId: bundle.job_id });
  }

  return { waitForJob, waitForCluster, waitForApp, waitForDeploy, waitForDagBundle };
}

function resourceFailed(what: string, status: string, reason: string | null): SkaledataOperationError {
  return new SkaledataOperationError(`${what} is ${status}${reason ? `: ${reason}` : ''}`, { code: 'resource_failed', status });
}

async function pollStatus<T extends { status: string }>(
  options: StatusWaitOptions<T>,
  read: (signal: AbortSignal) => Promise<{ value: T; done: boolean }>,
): Promise<T> {
  let last: string | null = null;
  return poll(options, async (signal) => {
    const { value, done } = await read(signal);
    if (value.status !== last) {
      last = value.status;
      options.onChange?.(value);
    }
    return done ? value : undefined;
  });
}

/**
 * Calls `check` until it returns a value. An answer the server may give while busy or restarting (a lost
 * connection, 429, 502–504) is retried within the time limit; any other refusal ends the wait at once.
 * Each request gets the time that is left (with the caller's signal): a server that takes the connection
 * and never answers ends the wait at its deadline with SkaledataTimeoutError, while an abort of the
 * caller's own signal stays an abort.
 */
async function poll<T>(options: WaitOptions, check: (signal: AbortSignal) => Promise<T | undefined>): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  const timedOut = (why: string) => new SkaledataTimeoutError(`still not finished after ${Math.round(timeoutMs / 1000)} s${why}`);
  for (;;) {
    options.signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw timedOut('');
    const deadlineSignal = AbortSignal.timeout(remaining);
    const signal = options.signal ? AbortSignal.any([options.signal, deadlineSignal]) : deadlineSignal;
    try {
      const value = await check(signal);
      if (value !== undefined) return value;
    } catch (error) {
      options.signal?.throwIfAborted();
      if (deadlineSignal.aborted) throw timedOut(' (the last request got no answer in time)');
      if (!isTransient(error) || Date.now() > deadline) throw error;
    }
    if (Date.now() + intervalMs > deadline) throw timedOut('');
    await sleep(intervalMs, options.signal);
  }
}

function isTransient(error: unknown): boolean {
  if (error instanceof SkaledataConnectionError) return true;
  return error instanceof SkaledataProblem && [429, 502, 503, 504].includes(error.status);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    signal?.addEventListener('abort', abort, { once: true });
  });
}
