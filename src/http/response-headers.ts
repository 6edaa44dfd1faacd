import type { FastifyInstance } from 'fastify';

/** Responses describe one caller's account: never cached by browsers or proxies, never sniffed. */
export const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

/**
 * One synchronous onSend hook for every response: the common headers, and `Connection: close` while the
 * instance drains (http/drain.ts says why). One hook rather than one per concern: each costs a hook
 * round per response.
 */
export function registerResponseHeaders(app: FastifyInstance, draining: () => boolean): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.headers(COMMON_HEADERS);
    if (draining()) reply.header('connection', 'close');
    done(null, payload);
  });
}
