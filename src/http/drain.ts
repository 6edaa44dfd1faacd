import { setMaxListeners } from 'node:events';
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
 * The one signal that this instance is shutting down: aborted when `app.close()` begins (Fastify's
 * preClose, before the listening socket closes). Everything that changes at that moment reads it:
 * - `/readyz` answers 503 so the load balancer stops sending here, while `/healthz` keeps answering 200
 *   (modules/system); followed log streams end cleanly (modules/pods);
 * - every response carries `Connection: close` (response-headers.ts), so a keep-alive client takes its
 *   next request to another instance instead of sending it down a socket about to be closed (Fastify
 *   does this only for requests that arrive after closing began, not for those already in flight);
 * - idle keep-alive sockets are closed after a short grace (below).
 * Requests in flight finish normally; the bound on how long that may take is the caller's (main.ts).
 */
export function registerShutdownSignal(app: FastifyInstance): AbortSignal {
  const controller = new AbortController();
  // Every followed log stream listens to it: no listener limit.
  setMaxListeners(0, controller.signal);
  controller.signal.addEventListener('abort', () => closeIdleConnectionsAfterGrace(app), { once: true });
  app.addHook('preClose', (done) => {
    controller.abort();
    done();
  });
  return controller.signal;
}

/**
 * Node's `server.close()` would close idle keep-alive sockets at that instant, and a client writing its
 * next request down one of them right then gets a reset for a request we never saw (the keep-alive race
 * that turns deploys into 502s behind a load balancer). Within the grace that request is served instead,
 * with `Connection: close`. After it, idle sockets are closed as they become idle (Node would otherwise
 * wait out the keep-alive timeout).
 */
function closeIdleConnectionsAfterGrace(app: FastifyInstance): void {
  const server = app.server;
  if (!server.listening) return;
  const closeIdle = server.closeIdleConnections.bind(server);
  // Fastify calls server.close() right after the preClose hooks, and Node's close() starts with closeIdleConnections().
  server.closeIdleConnections = () => undefined;
  let sweep: NodeJS.Timeout | null = null;
  const grace = setTimeout(() => {
    closeIdle();
    sweep = setInterval(closeIdle, IDLE_SWEEP_MS);
  }, IDLE_GRACE_MS);
  server.once('close', () => {
    clearTimeout(grace);
    if (sweep) clearInterval(sweep);
  });
}
