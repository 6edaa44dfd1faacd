import type { FastifyInstance } from 'fastify';

/** Responses describe one caller's account: never cached by browsers or proxies, never sniffed. */
export const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

/**
 * One synchronous onSend hook for every response: the common headers, and `Connection: close` once the
 * instance is shutting down (http/drain.ts says why). One hook rather than one per concern: each costs a
 * hook round per response.
 */
export function registerResponseHeaders(app: FastifyInstance, shutdown: AbortSignal): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.headers(COMMON_HEADERS);
    if (shutdown.aborted) reply.header('connection', 'close');
    done(null, payload);
  });
}
