import type { FastifyInstance } from 'fastify';
import type { AppDeps } from './app-context.js';
import { createAuthenticator } from './auth/authenticator.js';
import { SessionCache } from './auth/session-cache.js';
import { registerAuthGate } from './http/auth-gate.js';
import { createFenceLookups } from './modules/api-keys/key-resources-repo.js';
import { DOCS_PREFIX, registerOpenApi } from './http/openapi.js';
import { createResponseCache } from './http/response-cache.js';
import { createRowChanges } from './db/row-changes.js';
import { createRequestLimits } from './http/rate-limits.js';
import { createServer } from './http/server.js';
import { createRateCounters } from './lib/rate-counters.js';
import { randomBase62 } from './lib/ids.js';
import { createApiKeyStore } from './modules/api-keys/api-key-store.js';
import { createExpiryNotices, type ExpiryNotices } from './modules/api-keys/expiry-notices.js';
import { KeyActivityRecorder, keyActivityHook } from './modules/api-keys/key-activity.js';
import { CanaryAlarm } from './modules/api-keys/canary-alarm.js';
import { createKeyActivityRepo } from './modules/api-keys/key-activity-repo.js';
import { createJobRunner, type JobRunner } from './modules/jobs/job-runner.js';
import { JobHandlerRegistry } from './modules/jobs/job-types.js';
import { createSigningKeyStore } from './modules/signing-keys/signing-key-store.js';
import { createTokenIssuer } from './modules/signing-keys/token-issuer.js';
import * as apiKeys from './modules/api-keys/index.js';
import * as appCredentials from './modules/app-credentials/index.js';
import * as apps from './modules/apps/index.js';
import * as billing from './modules/billing/index.js';
import * as clerkWebhooks from './modules/clerk-webhooks/index.js';
import * as clouds from './modules/clouds/index.js';
import * as clusters from './modules/clusters/index.js';
import * as dags from './modules/dags/index.js';
import * as dashboard from './modules/dashboard/index.js';
import * as dataPlane from './modules/data-plane/index.js';
import * as events from './modules/events/index.js';
import { createEventLog } from './modules/events/event-log.js';
import * as deploys from './modules/deploys/index.js';
import * as github from './modules/github/index.js';
import * as jobs from './modules/jobs/index.js';
import * as me from './modules/me/index.js';
import * as nodePools from './modules/node-pools/index.js';
import * as pods from './modules/pods/index.js';
import * as registry from './modules/registry/index.js';
import * as secretScanning from './modules/secret-scanning/index.js';
import * as signingKeys from './modules/signing-keys/index.js';
import * as system from './modules/system/index.js';
import * as terminal from './modules/terminal/index.js';
import * as webhooks from './modules/webhooks/index.js';
import { registerMetrics, type MetricsListener } from './modules/metrics/index.js';

/**
 * Every route family of the API: one module each under src/modules/, whose `register(app, deps)` adds
 * its routes (and the handlers of its job types). A route exists only if its module is in this list.
 * The order is the order of GET /scopes' endpoint lists and of /openapi.json's paths.
 */
const MODULES = [
  system, //          /healthz, /readyz, /scopes, /openapi.json
  me, //              /me
  apiKeys, //         /api-keys
  clouds, //          /clouds
  clusters, //        /clusters, and its jobs
  nodePools, //       /clusters/{id}/node-pools, and their jobs
  pods, //            /clusters/{id}/pods
  jobs, //            /jobs
  apps, //            /apps, and their jobs
  deploys, //         /apps/{id}/deploys
  dags, //            /apps/{id}/dags, and their sync jobs
  github, //          /integrations/github
  billing, //         /billing
  events, //          /events
  webhooks, //        /webhooks, and their deliveries
  signingKeys, //     /.well-known/jwks.json
  appCredentials, //  /apps/{id}/registry-token, /dev-credentials, /deploy-script
  registry, //        /registry/token (the Docker token realm), /.well-known/registry-certs.pem
  terminal, //        /clusters/{id}/terminal, /terminal-sessions/redeem
  dataPlane, //       /clusters/{id}/data-plane-token
  secretScanning, //  /secret-scanning/github (GitHub calls it)
  clerkWebhooks, //   /webhooks/clerk (Clerk calls it)
  dashboard, //       /, /assets/* (the web dashboard), /dev/sign-in (local development issuer only)
];

export type App = FastifyInstance & {
  jobRunner: JobRunner;
  keyActivity: KeyActivityRecorder;
  expiryNotices: ExpiryNotices;
  canaries: CanaryAlarm;
  /** The METRICS_PORT listener, for main.ts to start; null when metrics are off or served on the API port. */
  metricsListener: MetricsListener | null;
};

/** Builds a ready API from explicit dependencies. It does not listen; main.ts (or a test) decides that. */
export async function buildApp(deps: AppDeps): Promise<App> {
  // API keys (their caches, and the change feed that keeps them exact across instances) and sessions.
  // The audit trail: every change below records its event through it, in the change's transaction.
  const eventLog = createEventLog({ db: deps.database.db, clock: deps.clock });
  const keys = createApiKeyStore({ database: deps.database, config: deps.config, pepper: deps.pepper, events: eventLog });
  const sessionCache = new SessionCache(deps.config.authCache.maxSessions);
  const authenticate = createAuthenticator({
    keys: keys.lookup,
    verifySession: deps.verifySession,
    sessionCache,
    now: () => deps.clock.now(),
  });
  // Rate limits (CONTRACT §7): in process, or shared through Redis when REDIS_URL is set. Made before the
  // server, whose router-level refusals also authenticate (and so are throttled too); they log through it.
  const { rateLimits } = deps.config;
  let log: FastifyInstance['log'] | null = null;
  const limits = createRequestLimits({
    counters: createRateCounters({
      redisUrl: rateLimits.redisUrl,
      keyPrefix: rateLimits.redisKeyPrefix,
      warn: (message, error) => log?.warn({ err: error }, message),
      info: (message) => log?.info(message),
    }),
    keyDefault: rateLimits.keyDefault,
    authFailures: rateLimits.authFailures,
  });
  // Uses of canary keys, reported after their refusal is sent: one event each, in its own transaction.
  const canaries = new CanaryAlarm({
    write: (event) => deps.database.db.transaction().execute(async (trx) => void (await eventLog.record(trx, event))),
    now: () => deps.clock.now().getTime(),
  });
  const { app, shutdown } = createServer({ config: deps.config, logger: deps.logger, authenticate, limits, canaries, faults: deps.database.faults });
  log = app.log;
  app.addHook('onClose', async () => limits.close());
  // Before any route: every route declares its auth, and the OpenAPI document records it.
  const fenceLookups = createFenceLookups(deps.database.db);
  const routes = registerAuthGate(app, authenticate, {
    thirdPartyPublicPrefixes: [DOCS_PREFIX],
    now: () => deps.clock.now().getTime(),
    fence: fenceLookups,
    limits,
    canaries,
  });
  await registerOpenApi(app, { publicUrl: deps.config.publicUrl });
  // What each API key does, refused requests included: noted after the response, written behind it.
  const activity = createKeyActivityRepo(deps.database.db);
  const keyActivity = new KeyActivityRecorder({
    write: (rows) => activity.write(rows),
    purge: (before) => activity.purgeBefore(before),
    now: () => deps.clock.now().getTime(),
    capacity: deps.config.keyActivity.bufferSize,
    flushIntervalMs: deps.config.keyActivity.flushIntervalMs,
  });
  app.addHook('onResponse', keyActivityHook(keyActivity));
  // Prometheus metrics (METRICS_TOKEN / METRICS_PORT); null, with no hook and no route, when both are unset.
  const metrics = registerMetrics(app, { config: deps.config, database: deps.database, keys, sessions: sessionCache });

  // What tells kept list pages that their rows changed, here or (PostgreSQL) on another instance.
  const rowChanges = createRowChanges(deps.config.database, deps.database);
  const signing = createSigningKeyStore({ db: deps.database.db, clock: deps.clock, encryptionKey: deps.encryptionKey });
  const context = {
    ...deps,
    shutdown,
    routes,
    fenceLookups,
    events: eventLog,
    keys,
    authenticate,
    canaries,
    limits,
    signingKeys: signing,
    issuer: createTokenIssuer({ keys: signing, clock: deps.clock, issuer: deps.config.publicUrl }),
    // Lists whose pages are a function of their rows alone, kept while their tables are unchanged.
    responses: createResponseCache(rowChanges.stamp),
    jobHandlers: new JobHandlerRegistry(),
  };
  for (const module of MODULES) await module.register(app, context);
  // Fail closed, like routes without an auth declaration: a job type nobody handles would sit queued forever.
  context.jobHandlers.assertComplete();

  const jobRunner = createJobRunner({
    database: deps.database,
    clock: deps.clock,
    driver: deps.driver,
    logger: app.log,
    pollIntervalMs: deps.config.jobPollIntervalMs,
    leaseMs: deps.config.jobLeaseMs,
    instanceId: deps.instanceId ?? `${process.pid}-${randomBase62(6)}`,
    reclaimAllOnStart: !deps.database.capabilities.sharedByInstances,
    handlers: context.jobHandlers,
    observer: metrics?.jobs ?? null,
  });
  // Background work (jobs, expiry notices) runs where jobs run; tests that only read leave it off.
  const expiryNotices = createExpiryNotices({ db: deps.database.db, clock: deps.clock, events: eventLog });
  if (deps.runJobs) app.addHook('onReady', async () => jobRunner.start());
  if (deps.runJobs) app.addHook('onReady', async () => expiryNotices.start(app.log));
  app.addHook('onClose', async () => expiryNotices.stop());
  app.addHook('onReady', async () => keys.start(app.log));
  app.addHook('onReady', async () => rowChanges.start(app.log));
  app.addHook('onClose', async () => rowChanges.stop());
  app.addHook('onReady', async () => keyActivity.start(app.log));
  app.addHook('onReady', async () => canaries.start(app.log));
  // Before the database closes (graceful shutdown closes it after the app): the last notes are written.
  app.addHook('onClose', async () => keyActivity.stop());
  app.addHook('onClose', async () => canaries.flush());
  app.addHook('onClose', async () => {
    try {
      await jobRunner.stop();
    } finally {
      await keys.stop();
    }
  });

  await app.ready();
  return Object.assign(app, { jobRunner, keyActivity, expiryNotices, canaries, metricsListener: metrics?.listener ?? null });
}
