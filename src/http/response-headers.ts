import type { FastifyInstance } from 'fastify';

/** Responses describe one caller's account: never cached by browsers or proxies, never sniffed. */
export const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

/**
 * One synchronous onSend hook for every response: the common headers, and `Connection: close` once the
 * instance is shutting down (http/drain.ts says why) or when the request's body has not all arrived. One hook rather than one per concern: each costs a
 * hook round per response.
 */
export function registerResponseHeaders(app: FastifyInstance, shutdown: AbortSignal): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.headers(COMMON_HEADERS);
    // Answered before its body arrived (a refusal at steps 1–4, usually): a client still sending it would
    // otherwise hold the connection for as long as it dribbles (http/slow-clients.ts).
    if (shutdown.aborted || (request.raw.complete === false && bodyExpected(request.headers))) reply.header('connection', 'close');
    done(null, payload);
  });
}

/** The request announced a body (a bodiless GET is not `complete` either while its first hooks run). */
function bodyExpected(headers: { 'content-length'?: string; 'transfer-encoding'?: string }): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}
