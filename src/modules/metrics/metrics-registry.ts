import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { KeyCacheCounts } from '../../auth/key-cache.js';
import type { PoolUse } from '../../db/database.js';
import type { JobRunObserver } from '../jobs/job-runner.js';
import type { HttpMetricsSink, Observer, OutcomeCounts } from './http-metrics.js';
import { SeriesHistogram } from './series-histogram.js';

/** What the metrics read when they are scraped; nothing here is asked per request. */
export interface MetricsSources {
  database: { kind: 'sqlite' | 'postgres'; pool(): PoolUse };
  keyCache(): { counts: KeyCacheCounts; entries: { known: number; unknown: number } };
  sessionCache(): { counts: { hits: number; misses: number }; size: number };
  /** Jobs queued and running in the whole database (a repository count). */
  queueDepth(): Promise<{ queued: number; running: number }>;
}

export interface AppMetrics {
  /** This app's own registry: never prom-client's global one, so apps in one process (tests) stay apart. */
  readonly registry: Registry;
  readonly http: HttpMetricsSink;
  readonly jobs: JobRunObserver;
  /** The Prometheus text exposition of this process's metrics. */
  render(): Promise<string>;
  readonly contentType: string;
}

/** From half a millisecond (a cached key's /me) to 10 s (the longest a request may take but a stream). */
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Jobs take from a moment (simulated steps) to an hour (a real cluster). */
const JOB_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * Every metric of one app, on a registry of its own. What the request path feeds is plain numbers (the
 * request histogram's series, auth outcomes, cache hits in the caches) handed to prom-client when scraped;
 * gauges are read from their source when scraped; job runs, rare, go to prom-client directly. All label
 * values come from fixed sets or route templates: never an id or a raw path.
 */
export function createAppMetrics(sources: MetricsSources): AppMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  // Fed on every request: a histogram of our own, handed to prom-client when scraped (series-histogram.ts).
  const requests = new SeriesHistogram<'route' | 'method' | 'status_code'>(
    'skaledata_http_request_duration_seconds',
    'Time from the request arriving to its response finishing, by route template (unmatched: no route), method (OTHER: an unknown one) and status code. Its _count is the request count.',
    HTTP_BUCKETS,
  );

  const outcomesByScope = new Map<string, OutcomeCounts>();
  new Counter({
    name: 'skaledata_auth_decisions_total',
    help:
      'Auth gate answers to requests of routes that ask for credentials, by outcome (allowed, or the refusal code: unauthenticated, invalid_token, user_session_required, insufficient_scope, ip_not_allowed, resource_not_allowed, rate_limited, invalid_request; address_throttled: AUTH_FAILURE_LIMIT; error: the check failed) ' +
      'and the scope the route requires of API keys (full, a scope; any: any credential; user: user sessions only).',
    labelNames: ['outcome', 'required_scope'] as const,
    registers,
    collect() {
      this.reset();
      for (const [scope, outcomes] of outcomesByScope) {
        for (const [outcome, count] of Object.entries(outcomes)) this.inc({ outcome, required_scope: scope }, count);
      }
    },
  });

  new Counter({
    name: 'skaledata_auth_cache_lookups_total',
    help: 'Lookups in the in-process authentication caches: api_key (hit; unknown_hit: a key known to match nothing; miss: the database was asked) and session (hit; miss: the token was verified).',
    labelNames: ['cache', 'result'] as const,
    registers,
    collect() {
      this.reset();
      const keys = sources.keyCache().counts;
      const sessions = sources.sessionCache().counts;
      this.inc({ cache: 'api_key', result: 'hit' }, keys.hits);
      this.inc({ cache: 'api_key', result: 'unknown_hit' }, keys.unknownHits);
      this.inc({ cache: 'api_key', result: 'miss' }, keys.misses);
      this.inc({ cache: 'session', result: 'hit' }, sessions.hits);
      this.inc({ cache: 'session', result: 'miss' }, sessions.misses);
    },
  });

  new Gauge({
    name: 'skaledata_auth_cache_entries',
    help: 'Entries held by the authentication caches: api_key (verified keys), unknown_api_key (keys known to match nothing), session.',
    labelNames: ['cache'] as const,
    registers,
    collect() {
      const { entries } = sources.keyCache();
      this.set({ cache: 'api_key' }, entries.known);
      this.set({ cache: 'unknown_api_key' }, entries.unknown);
      this.set({ cache: 'session' }, sources.sessionCache().size);
    },
  });

  new Gauge({
    name: 'skaledata_job_queue_depth',
    help: 'Jobs queued and running in the whole database (on PostgreSQL every instance reports the same figure: aggregate with max, not sum). Absent when the database could not be read.',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      try {
        const depth = await sources.queueDepth();
        this.set({ status: 'queued' }, depth.queued);
        this.set({ status: 'running' }, depth.running);
      } catch {
        // A scrape still answers while the database is down (the pool gauges then tell why): no stale figure.
        this.reset();
      }
    },
  });

  const jobRuns = new Histogram({
    name: 'skaledata_job_run_duration_seconds',
    help: 'Runs of jobs on this instance, from claim to end, by job type and outcome (succeeded, failed, canceled; interrupted: stopped or lease lost, it resumes; error: the runner failed, it is retried).',
    labelNames: ['type', 'outcome'] as const,
    buckets: JOB_BUCKETS,
    registers,
  });
  const jobFailures = new Counter({
    name: 'skaledata_job_failures_total',
    help: 'Jobs this instance finished as failed, by job type and error code (step_failed, abandoned, unknown_job_type).',
    labelNames: ['type', 'code'] as const,
    registers,
  });
  const pollFailures = new Counter({
    name: 'skaledata_job_poll_failures_total',
    help: 'Polls for due jobs that failed on this instance (the database was unreachable or full).',
    registers,
  });

  const database = sources.database.kind;
  new Gauge({
    name: 'skaledata_db_pool_connections',
    help: 'Connections of the pool requests and jobs share, by state: open (idle or in use) and idle. SQLite: one connection, always open.',
    labelNames: ['database', 'state'] as const,
    registers,
    collect() {
      const pool = sources.database.pool();
      this.set({ database, state: 'open' }, pool.total);
      if (pool.idle !== null) this.set({ database, state: 'idle' }, pool.idle);
    },
  });
  new Gauge({
    name: 'skaledata_db_pool_waiting',
    help: 'Queries waiting for a connection of the pool (PostgreSQL only).',
    labelNames: ['database'] as const,
    registers,
    collect() {
      const { waiting } = sources.database.pool();
      if (waiting !== null) this.set({ database }, waiting);
    },
  });
  new Gauge({
    name: 'skaledata_db_pool_max_connections',
    help: 'Size of the pool requests and jobs share.',
    labelNames: ['database'] as const,
    registers,
    collect() {
      this.set({ database }, sources.database.pool().max);
    },
  });

  return {
    registry,
    http: {
      observer: (route, method, status): Observer => requests.series({ route, method, status_code: status }),
      outcomes(scope) {
        let outcomes = outcomesByScope.get(scope);
        if (outcomes === undefined) {
          outcomes = {};
          outcomesByScope.set(scope, outcomes);
        }
        return outcomes;
      },
    },
    jobs: {
      ran(type, outcome, seconds, failure) {
        jobRuns.observe({ type, outcome }, seconds);
        if (failure !== null) jobFailures.inc({ type, code: failure });
      },
      pollFailed: () => pollFailures.inc(),
    },
    render: () => Registry.merge([registry, requests.registry()]).metrics(),
    contentType: registry.contentType,
  };
}
