import type { FastifyInstance } from 'fastify';

/** Past the drain bound, closing the job runner and the database may take this much longer before a forced exit. */
export const FORCE_EXIT_GRACE_MS = 5_000;

export interface GracefulShutdownOptions {
  app: FastifyInstance;
  /** Runs once the app has closed (server, job runner, write-behind flushes): the database goes last. */
  closeDatabase(): Promise<void>;
  /** How long requests in flight may take to finish; then their connections are cut. */
  drainMs: number;
  exit(code: number): void;
}

/**
 * Returns the handler for SIGTERM and SIGINT. The first signal starts an orderly shutdown:
 * 1. `app.close()`: the listening socket closes (new connections are refused), /readyz turns 503, idle
 *    keep-alive sockets close and every response from here on says `Connection: close` (http/drain.ts);
 * 2. requests in flight finish with their normal status, for up to `drainMs`; connections still open
 *    after that are cut (logged), so a stuck client cannot hold the instance;
 * 3. the app's onClose hooks: the job runner interrupts its steps and hands their jobs back (another
 *    instance, or the next start, resumes them), and `last_used_at` is flushed;
 * 4. the database closes; exit 0.
 * A step that throws exits 1; past `drainMs + FORCE_EXIT_GRACE_MS` the process exits 1 whatever is still
 * running. Further signals while this runs are logged and otherwise ignored: they neither crash the
 * process nor change its exit code.
 */
export function gracefulShutdown(options: GracefulShutdownOptions): (signal: string) => void {
  const { app, drainMs, exit } = options;
  let started = false;
  return (signal) => {
    if (started) {
      app.log.warn({ signal }, 'already shutting down; waiting for requests in flight');
      return;
    }
    started = true;
    const startedAt = Date.now();
    app.log.info({ signal, drain_ms: drainMs }, 'shutting down: refusing new connections, finishing requests in flight');
    const force = setTimeout(() => {
      app.log.error({ elapsed_ms: Date.now() - startedAt }, 'shutdown did not finish in time; exiting');
      exit(1);
    }, drainMs + FORCE_EXIT_GRACE_MS);
    force.unref();
    const cut = setTimeout(() => {
      app.log.warn({ drain_ms: drainMs }, 'requests still in flight after the drain bound; closing their connections');
      app.server.closeAllConnections();
    }, drainMs);
    cut.unref();
    app.server.once('close', () => clearTimeout(cut));
    app
      .close()
      .then(() => options.closeDatabase())
      .then(() => {
        clearTimeout(force);
        app.log.info({ elapsed_ms: Date.now() - startedAt }, 'shut down');
        exit(0);
      })
      .catch((error: unknown) => {
        clearTimeout(force);
        app.log.error({ err: error }, 'shutdown failed');
        exit(1);
      });
  };
}
