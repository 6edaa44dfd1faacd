import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import type { CanaryReporter } from '../auth/canary.js';
import { TOO_MANY_INVALID_CREDENTIALS } from '../auth/decision.js';
import type { Config } from '../config.js';
import type { StorageFaults } from '../db/faults.js';
import { randomBase62 } from '../lib/ids.js';
import type { RequestLimits } from './rate-limits.js';
import { registerShutdownSignal } from './drain.js';
import { registerErrorHandling, sendProblem } from './error-handler.js';
import { AppError, refusalError } from './errors.js';
import { errorSerializer, principalLogFields, REDACTED_PATHS, requestSerializer } from './request-log.js';
import { COMMON_HEADERS, registerResponseHeaders } from './response-headers.js';
import { registerOptionalBodies } from './optional-body.js';
import { registerBodyDeadlines, SLOW_CLIENT_SERVER_OPTIONS } from './slow-clients.js';
import { compileValidator } from './validation.js';


/** A request's id, as every answer and log line carries it (`req_` + 20 base62 characters). */
export const newRequestId = (): string => `req_${randomBase62(20)}`;
export interface ServerOptions {
  config: Pick<Config, 'logLevel' | 'trustProxy'>;
  /** Pino options; tests pass a stream to capture log lines. False: no logging. */
  logger?: boolean | Record<string, unknown> | undefined;
  /** Router-level refusals still answer credentials first (CONTRACT §2), so they need the authenticator. */
  authenticate: Authenticator;
  /** The invalid-credential throttle applies to router-level refusals too (they answer credentials first). */
  limits?: Pick<RequestLimits, 'throttledFor' | 'noteInvalidCredential'>;
  /** Canary keys are reported on router-level refusals too (every route answers them alike). */
  canaries?: CanaryReporter;
  /** Storage faults met by requests are noted here (the database handle's), for readiness. */
  faults: StorageFaults;
}

/**
 * The HTTP server every route runs on, before any route exists: pino logging with secrets redacted and
 * the caller named, request ids, size and time limits, JSON as the only body it parses, one problem+json
 * for every error (router-level ones included), the common response headers, and the shutdown signal.
 */
export function createServer(options: ServerOptions): { app: FastifyInstance; shutdown: AbortSignal } {
  const { authenticate } = options;
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: options.config.logLevel,
            redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
            // One shape for every error on every line (the `err` key and the `error` key): no stack, ever.
            // (`as never`: Fastify's type insists that what `err` serializes to has a stack; ours has none on purpose.)
            serializers: { req: requestSerializer, err: errorSerializer as never, error: errorSerializer },
            mixin: principalLogFields,
            ...(typeof options.logger === 'object' ? options.logger : {}),
          },
    genReqId: newRequestId,
    // request.ip: the socket's peer, or the left-most untrusted X-Forwarded-For hop behind TRUST_PROXY.
    trustProxy: options.config.trustProxy.length > 0 ? options.config.trustProxy : false,
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
      // An address over AUTH_FAILURE_LIMIT is refused before any lookup here too, and its failures count:
      // a malformed URL is no way round the throttle.
      const limits = options.limits;
      if (limits && request.headers.authorization !== undefined) {
        const wait = limits.throttledFor(request);
        if (wait > 0) {
          reply.header('retry-after', String(wait));
          sendProblem(reply, refusalError(TOO_MANY_INVALID_CREDENTIALS));
          return;
        }
      }
      try {
        authenticate(
          request.headers.authorization,
          (result, canary) => {
            if (result.type === 'refusal' && result.code === 'invalid_token') limits?.noteInvalidCredential(request.ip);
            sendProblem(reply, result.type === 'refusal' ? refusalError(result) : malformed);
            if (canary !== undefined) options.canaries?.trip(canary, request);
          },
          () => sendProblem(reply, malformed),
        );
      } catch {
        sendProblem(reply, malformed);
      }
    },
    // Slow clients may not hold sockets for long (http/slow-clients.ts).
    ...SLOW_CLIENT_SERVER_OPTIONS,
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
  registerErrorHandling(app, options.faults);
  registerBodyDeadlines(app);
  // Routes whose body may be left out say so (`config.optionalBody`); the OpenAPI document reads the same flag.
  registerOptionalBodies(app);
  // Aborted when the app starts closing: readiness, keep-alive connections and log streams follow it.
  const shutdown = registerShutdownSignal(app);
  registerResponseHeaders(app, shutdown);
  return { app, shutdown };
}
