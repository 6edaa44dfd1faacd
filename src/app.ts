import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AppDeps } from './app-context.js';
import { createAuthenticator } from './auth/authenticator.js';
import { SessionCache } from './auth/session-cache.js';
import { registerAuthGate, securitySchemes } from './http/auth-gate.js';
import { registerShutdownSignal } from './http/drain.js';
import { registerErrorHandling, sendProblem } from './http/error-handler.js';
import { AppError, refusalError } from './http/errors.js';
import { principalLogFields } from './http/request-log.js';
import { COMMON_HEADERS, registerResponseHeaders } from './http/response-headers.js';
import { compileValidator } from './http/validation.js';
import { randomBase62 } from './lib/ids.js';
import { registerApiKeyRoutes } from './modules/api-keys/api-key-routes.js';
import { createApiKeyStore } from './modules/api-keys/api-key-store.js';
import { registerCloudRoutes } from './modules/clouds/cloud-routes.js';
import { registerClusterRoutes } from './modules/clusters/cluster-routes.js';
import { createResponseCache } from './http/response-cache.js';
import { registerJobRoutes } from './modules/jobs/job-routes.js';
import { createJobRunner, type JobRunner } from './modules/jobs/job-runner.js';
import { registerMeRoutes } from './modules/me/me-routes.js';
import { registerNodePoolRoutes } from './modules/node-pools/node-pool-routes.js';
import { registerPodRoutes } from './modules/pods/pod-routes.js';
import { registerSystemRoutes } from './modules/system/system-routes.js';
import { registerGithubRoutes } from './modules/github/github-routes.js';
import { registerBillingRoutes } from './modules/billing/billing-routes.js';
import { registerIssuedTokenRoutes } from './modules/signing-keys/issued-token-routes.js';
import { clusterJobHandlers } from './modules/clusters/cluster-jobs.js';
import { nodePoolJobHandlers } from './modules/node-pools/node-pool-jobs.js';
import { appJobHandlers } from './modules/apps/app-jobs.js';
import { registerAppRoutes } from './modules/apps/app-routes.js';
import { registerDeployRoutes } from './modules/deploys/deploy-routes.js';
import { JobHandlerRegistry } from './modules/jobs/job-types.js';
import { dagJobHandlers } from './modules/dags/dag-jobs.js';
import { registerDagRoutes } from './modules/dags/dag-routes.js';

export type App = FastifyInstance & { jobRunner: JobRunner };

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'key',
  'token',
  'credentials',
  '*.key',
  '*.token',
  '*.credentials',
];

/** Query-string values that look like secrets never reach a log line, even when a client misplaces a key. */
const SECRET_SHAPES = /skd_[0-9A-Za-z]{8,}|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

export function redactUrl(url: string): string {
  // Anything shaped like one of our keys or a JWT, wherever it sits in the URL.
  const shaped = url.replace(SECRET_SHAPES, '[redacted]');
  const question = shaped.indexOf('?');
  if (question === -1) return shaped;
  const params = new URLSearchParams(shaped.slice(question + 1));
  for (const name of [...params.keys()]) {
    if (/key|token|secret|password|auth|credential|sig/i.test(name)) params.set(name, '[redacted]');
  }
  return `${shaped.slice(0, question)}?${params.toString()}`;
}

const requestSerializer = (request: { method: string; url: string; id: string; ip?: string }) => ({
  method: request.method,
  url: redactUrl(request.url),
  request_id: request.id,
  remote_address: request.ip,
});

/** Builds a ready API from explicit dependencies. It does not listen; main.ts (or a test) decides that. */
export async function buildApp(deps: AppDeps): Promise<App> {
  // API keys (their caches, and the change feed that keeps them exact across instances) and sessions.
  const keys = createApiKeyStore({ database: deps.database, config: deps.config, pepper: deps.pepper });
  const authenticate = createAuthenticator({
    keys: keys.lookup,
    verifySession: deps.verifySession,
    sessionCache: new SessionCache(deps.config.authCache.maxSessions),
    now: () => deps.clock.now(),
  });
  const app = Fastify({
    logger:
      deps.logger === false
        ? false
        : {
            level: deps.config.logLevel,
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            serializers: { req: requestSerializer },
            mixin: principalLogFields,
            ...(typeof deps.logger === 'object' ? deps.logger : {}),
          },
    genReqId: () => `req_${randomBase62(20)}`,
    bodyLimit: 64 * 1024,
    // While draining, requests arriving on open keep-alive connections are still served (with
    // `Connection: close`): /healthz must stay 200 until exit and /readyz answer its own 503 (http/drain.ts).
    return503OnClosing: false,
    // Router-level refusals (malformed percent-encoding, over-long path segments) get the same
    // problem+json — and still answer missing or invalid credentials first (CONTRACT §2 step 1–2).
    frameworkErrors: (error, request, reply) => {
      const detail = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path segment is longer than any id.' : 'The URL is malformed.';
      const malformed = new AppError('validation_failed', detail, { errors: [{ path: 'path', message: detail }] });
      // Answered before any hook runs, so the headers of response-headers.ts are set here.
      reply.headers(COMMON_HEADERS);
      // Steps 1–2 still come first: a refused credential is answered, anyone else hears the URL is malformed.
      authenticate(
        request.headers.authorization,
        (result) => sendProblem(reply, result.type === 'refusal' ? refusalError(result) : malformed),
        () => sendProblem(reply, malformed),
      );
    },
    // Slow clients may not hold sockets for minutes (Node's default header timeout is 60 s).
    http: { headersTimeout: 10_000, requestTimeout: 60_000 },
    routerOptions: { ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, caseSensitive: true, maxParamLength: 2000 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(compileValidator);
  // JSON is the only request body we read; text/plain and the rest answer 415.
  app.removeContentTypeParser('text/plain');
  // An empty JSON body is no body (clients often send the header on bodiless POSTs); the rest is
  // Fastify's own parser, which refuses __proto__ and constructor keys.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    return parseJson(request, text, done);
  });
  registerErrorHandling(app);
  // Aborted when the app starts closing: readiness, keep-alive connections and log streams follow it.
  const shutdown = registerShutdownSignal(app);
  registerResponseHeaders(app, shutdown);

  const routes = registerAuthGate(app, authenticate, { thirdPartyPublicPrefixes: ['/docs'] });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SkaleData control-plane API',
        version: '1.0.0',
        description:
          'Clouds, clusters, node pools and jobs, called with Clerk user sessions or scoped API keys. ' +
          'Each operation lists its auth requirement in `security` and `x-required-scope`.',
      },
      components: { securitySchemes: { ...securitySchemes } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const handlers = new JobHandlerRegistry();
  for (const moduleHandlers of [clusterJobHandlers(), nodePoolJobHandlers(), appJobHandlers(), dagJobHandlers()]) handlers.add(moduleHandlers);
  // Fail closed, like routes without an auth declaration: a job type nobody handles would sit queued forever.
  handlers.assertComplete();
  const jobRunner = createJobRunner({
    database: deps.database,
    clock: deps.clock,
    driver: deps.driver,
    logger: app.log,
    pollIntervalMs: deps.config.jobPollIntervalMs,
    leaseMs: deps.config.jobLeaseMs,
    instanceId: deps.instanceId ?? `${process.pid}-${randomBase62(6)}`,
    reclaimAllOnStart: !deps.database.capabilities.sharedByInstances,
    handlers,
  });

  registerSystemRoutes(app, deps, routes, shutdown);
  registerMeRoutes(app);
  registerApiKeyRoutes(app, deps, keys);
  // Lists whose pages are a function of their rows alone, kept while the database is unchanged (SQLite).
  const responses = createResponseCache(deps.database.changeStamp);
  registerCloudRoutes(app, deps, responses);
  registerClusterRoutes(app, deps, responses);
  registerNodePoolRoutes(app, deps);
  registerPodRoutes(app, deps, shutdown);
  registerJobRoutes(app, deps, handlers);
  registerAppRoutes(app, deps, responses);
  registerDeployRoutes(app, deps);
  registerDagRoutes(app, deps);
  registerGithubRoutes(app, deps);
  registerBillingRoutes(app, deps);
  registerIssuedTokenRoutes(app, deps);

  if (deps.runJobs) app.addHook('onReady', async () => jobRunner.start());
  app.addHook('onReady', async () => keys.start(app.log));
  app.addHook('onClose', async () => {
    await jobRunner.stop();
    await keys.stop();
  });

  await app.ready();
  return Object.assign(app, { jobRunner }) as unknown as App;
}
