import type { FastifyInstance } from 'fastify';

/**
 * How long an idle keep-alive connection is left open once draining begins. A busy client sends its next
 * request within it and gets its answer with `Connection: close` (a clean goodbye); only connections
 * still idle after it are closed.
 */
const IDLE_GRACE_MS = 1_000;
/** After the grace, how often connections that have gone idle are closed. */
const IDLE_SWEEP_MS = 100;

/**
 * The HTTP side of a graceful shutdown, from the moment `app.close()` begins (Fastify's preClose, before
 * the listening socket closes) until the last connection has gone:
 * - (system-routes) `/readyz` answers 503 so the load balancer stops sending here, while `/healthz` keeps
 *   answering 200; (pod-routes) followed log streams end cleanly;
 * - every response carries `Connection: close` (set in response-headers.ts's onSend hook), so a keep-alive client takes its next request to another
 *   instance instead of sending it down a socket about to be closed (Fastify does this only for requests
 *   that arrive after closing began, not for those already in flight);
 * - idle keep-alive sockets are closed, after a short grace: Node's `server.close()` would close those idle
 *   at that instant at once, and a client writing its next request down one of them right then gets a
 *   reset for a request we never saw (the keep-alive race that turns deploys into 502s behind a load
 *   balancer). Within the grace that request is served instead, with `Connection: close`. After it, idle
 *   sockets are closed as they become idle (Node would otherwise wait out the keep-alive timeout).
 * Requests in flight finish normally; the bound on how long that may take is the caller's (main.ts).
 */
export function registerDrain(app: FastifyInstance): { draining: () => boolean } {
  let active = false;
  let sweep: NodeJS.Timeout | null = null;

  app.addHook('preClose', (done) => {
    active = true;
    const server = app.server;
    if (server.listening) {
      const closeIdle = server.closeIdleConnections.bind(server);
      // Fastify calls server.close() right after this hook, and Node's close() starts with closeIdleConnections().
      server.closeIdleConnections = () => undefined;
      const grace = setTimeout(() => {
        closeIdle();
        sweep = setInterval(closeIdle, IDLE_SWEEP_MS);
      }, IDLE_GRACE_MS);
      server.once('close', () => {
        clearTimeout(grace);
        if (sweep) clearInterval(sweep);
      });
    }
    done();
  });
  // Read by the onSend hook of response-headers.ts, which adds `Connection: close` while this is true.
  return { draining: () => active };
}
