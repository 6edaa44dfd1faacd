import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';

/** While polls keep failing, at most one "<what> poll failed" line per this interval (ms). */
export const POLL_FAILURE_LOG_INTERVAL_MS = 60_000;

export interface ClaimLoopDeps<T extends { id: string }> {
  /** Names the work in log lines: "<what> poll failed", "<what> poll works again". */
  what: string;
  /** Items run at once on this instance. */
  concurrency: number;
  pollIntervalMs: number;
  logger: FastifyBaseLogger;
  /** Monotonic ms, for spacing the failure lines. */
  monotonicNow?: () => number;
  /** A poll failed (the database is down or full): readiness is told, as it is by a failing request. */
  noteFault(error: unknown): void;
  /** Takes up to `free` due items under this instance's lease, never one of `busy` (in flight here). */
  claim(free: number, busy: string[]): Promise<T[]>;
  /** Gives items back untouched, for any instance to take (claimed as stop came, or interrupted by it). */
  handBack(ids: string[]): Promise<unknown>;
  /** Before the first poll (SQLite: leases left by a crash of the one process are taken back). */
  beforeStart?(): Promise<void>;
  /** Runs one claimed item until it is done or `controller` is aborted (stop aborts it). Should not reject. */
  run(item: T, controller: AbortController): Promise<void>;
}

export interface ClaimLoop {
  /** Polls every pollIntervalMs (the first at once) until stopped. */
  start(): Promise<void>;
  /** Stops polling, waits for a poll under way, aborts the items in flight and hands them back. */
  stop(): Promise<void>;
  /** Claims and runs what is due now; the loop calls it, tests may too. Concurrent calls share one poll. */
  tick(): Promise<void>;
}

/**
 * The poll loop shared by the job runner and the webhook delivery worker: claim due rows under a lease,
 * run each as it is claimed (at most `concurrency` at once), and on stop interrupt them and give them back
 * so another instance (or the next start) takes them at once rather than after their leases run out.
 */
export function createClaimLoop<T extends { id: string }>(deps: ClaimLoopDeps<T>): ClaimLoop {
  const monotonicNow = deps.monotonicNow ?? (() => performance.now());
  const inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  let stopped = true;
  let timer: NodeJS.Timeout | null = null;
  let ticking: Promise<void> | null = null;
  // Polls failing in a row (the database is down): the first is logged, then one line a minute, then the recovery.
  let pollFailures = 0;
  let pollFailureLoggedAt = -Infinity;

  function launch(item: T): void {
    const controller = new AbortController();
    const done = deps
      .run(item, controller)
      .catch(() => undefined)
      .finally(() => inFlight.delete(item.id));
    inFlight.set(item.id, { controller, done });
  }

  function tick(): Promise<void> {
    if (ticking) return ticking;
    ticking = (async () => {
      const free = deps.concurrency - inFlight.size;
      if (free <= 0 || stopped) return;
      // Never an item in flight here, even if its lease lapsed: one execution per item on this instance.
      const claimed = await deps.claim(free, [...inFlight.keys()]);
      // stop() came while we were claiming: give these back untouched rather than start and interrupt them.
      if (stopped) await deps.handBack(claimed.map((item) => item.id));
      else for (const item of claimed) launch(item);
      if (pollFailures > 0) deps.logger.info({ failed_polls: pollFailures }, `${deps.what} poll works again`);
      pollFailures = 0;
      pollFailureLoggedAt = -Infinity;
    })()
      .catch((error: unknown) => {
        deps.noteFault(error);
        pollFailures++;
        if (monotonicNow() - pollFailureLoggedAt < POLL_FAILURE_LOG_INTERVAL_MS) return;
        pollFailureLoggedAt = monotonicNow();
        deps.logger.error({ err: error, failed_polls: pollFailures }, `${deps.what} poll failed`);
      })
      .finally(() => {
        ticking = null;
      });
    return ticking;
  }

  return {
    tick,
    async start() {
      if (!stopped) return;
      stopped = false;
      await deps.beforeStart?.();
      const loop = async () => {
        await tick();
        if (!stopped) timer = setTimeout(loop, deps.pollIntervalMs);
      };
      timer = setTimeout(loop, 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await ticking;
      const entries = [...inFlight.entries()];
      for (const [, entry] of entries) entry.controller.abort();
      await Promise.all(entries.map(([, entry]) => entry.done));
      await deps.handBack(entries.map(([id]) => id)).catch(() => undefined);
    },
  };
}
