import type { FastifyInstance, preParsingHookHandler, RouteOptions } from 'fastify';
import { AppError, renderProblem } from './errors.js';
import { COMMON_HEADERS } from './response-headers.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How long this route waits for the whole request body (ms); BODY_TIMEOUT_MS unless a route needs longer. */
    bodyTimeoutMs?: number;
  }
}

/**
 * How long a client may take to send what it sends. A client that dribbles bytes holds a socket and a
 * slot in the server's connection table; these bounds close it within seconds.
 * - Headers: HEADERS_TIMEOUT_MS from the connection's first byte (Node answers 408 and closes).
 * - A body: BODY_TIMEOUT_MS from when the request is admitted (headers read, credentials and scope
 *   checked), or the route's own `bodyTimeoutMs` (DAG uploads).
 * - The whole request, whatever the route: REQUEST_TIMEOUT_MS (Node's own bound, above every route's).
 * Node checks its two bounds on a sweep every CONNECTIONS_CHECK_MS (its default, 30 s, let a header
 * dribbler stay ~28 s past a 10 s bound).
 */
export const HEADERS_TIMEOUT_MS = 10_000;
export const BODY_TIMEOUT_MS = 10_000;
/** The longest body bound a route may ask for (a 22 MiB DAG bundle at ~400 KB/s). */
export const LONGEST_BODY_TIMEOUT_MS = 60_000;
export const REQUEST_TIMEOUT_MS = LONGEST_BODY_TIMEOUT_MS + HEADERS_TIMEOUT_MS;
export const CONNECTIONS_CHECK_MS = 1_000;

/** Node's options for the server (Fastify passes `http` to http.createServer, and sets requestTimeout itself). */
export const SLOW_CLIENT_SERVER_OPTIONS = {
  requestTimeout: REQUEST_TIMEOUT_MS,
  http: { headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: CONNECTIONS_CHECK_MS },
} as const;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Gives every route that can take a body a deadline for it (a preParsing hook, so GETs pay nothing). When
 * it passes, the client gets 408 request_timeout and the connection is closed: the request is not
 * handled, whatever part of its body arrived.
 */
export function registerBodyDeadlines(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (![route.method].flat().some((method) => BODY_METHODS.has(method))) return;
    const ms = Math.min(route.config?.bodyTimeoutMs ?? BODY_TIMEOUT_MS, LONGEST_BODY_TIMEOUT_MS);
    route.preParsing = [bodyDeadline(ms), ...[route.preParsing ?? []].flat()];
  });
}

function bodyDeadline(ms: number): preParsingHookHandler {
  const timedOut = new AppError('request_timeout', `The request body did not arrive within ${ms / 1000} s; the connection is closed.`);
  return function bodyDeadlineHook(request, reply, payload, done) {
    const raw = request.raw;
    // Bodies that arrived with their headers (nearly all JSON ones) need no timer.
    if (raw.complete) return done(null, payload);
    const timer = setTimeout(() => {
      if (raw.complete || reply.raw.headersSent) return;
      request.log.info({ body_timeout_ms: ms }, 'request body too slow; closing the connection');
      // Answered on the raw response, taken from Fastify first (hijack): the body parser or the handler is
      // still waiting for bytes and fails once the socket is gone, and nothing may answer a second time.
      reply.hijack();
      reply.raw.writeHead(timedOut.status, { ...COMMON_HEADERS, 'content-type': 'application/problem+json', connection: 'close' });
      reply.raw.end(renderProblem(timedOut, String(request.id)), () => raw.socket?.destroy());
    }, ms);
    timer.unref();
    const clear = () => clearTimeout(timer);
    raw.once('end', clear);
    raw.once('close', clear);
    done(null, payload);
  };
}
