import type { FastifyInstance } from 'fastify';
import type { SessionCache } from '../../auth/session-cache.js';
import type { Config } from '../../config.js';
import type { DatabaseHandle } from '../../db/database.js';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import { createJobRepo } from '../jobs/job-repo.js';
import type { JobRunObserver } from '../jobs/job-runner.js';
import { httpMetricsHook } from './http-metrics.js';
import { createMetricsListener, type MetricsListener } from './metrics-listener.js';
import { createAppMetrics } from './metrics-registry.js';
import { registerMetricsRoute, scrapeCheck } from './metrics-routes.js';

export type { MetricsListener } from './metrics-listener.js';

export interface MetricsDeps {
  config: Pick<Config, 'metrics'>;
  database: Pick<DatabaseHandle, 'db' | 'kind' | 'pool'>;
  keys: Pick<ApiKeyStore, 'cacheStats'>;
  sessions: Pick<SessionCache, 'counts' | 'size'>;
}

/**
 * Prometheus metrics of this process (README, Metrics), when METRICS_TOKEN or METRICS_PORT is set: served
 * at GET /metrics on the API port behind the token, or by a listener of its own on METRICS_PORT (the API
 * port then has no /metrics). With neither, nothing at all: no hook, no route, no registry (null), so the
 * request path pays nothing for metrics that nobody reads.
 * Returns what the job runner reports to, and the METRICS_PORT listener (main.ts starts it; closed with the app).
 */
export function registerMetrics(app: FastifyInstance, deps: MetricsDeps): { jobs: JobRunObserver; listener: MetricsListener | null } | null {
  const settings = deps.config.metrics;
  if (settings === null) return null;
  const jobs = createJobRepo(deps.database.db);
  const metrics = createAppMetrics({
    database: { kind: deps.database.kind, pool: () => deps.database.pool() },
    keyCache: () => deps.keys.cacheStats(),
    sessionCache: () => ({ counts: deps.sessions.counts, size: deps.sessions.size }),
    queueDepth: () => jobs.countActive(),
  });
  app.addHook('onResponse', httpMetricsHook(metrics.http));
  if (settings.listener === null) {
    registerMetricsRoute(app, { metrics, token: settings.token });
    return { jobs: metrics.jobs, listener: null };
  }
  const listener = createMetricsListener({ metrics, ...settings.listener, refusal: scrapeCheck(settings.token), log: app.log });
  app.addHook('onClose', async () => listener.close());
  return { jobs: metrics.jobs, listener };
}
