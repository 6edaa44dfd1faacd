import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createClaimLoop, POLL_FAILURE_LOG_INTERVAL_MS, type ClaimLoopDeps } from './claim-loop.js';

interface Item {
  id: string;
}

/** A promise and the functions that settle it. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string }> = [];
  const at = (level: string) => (_fields: unknown, message: string) => lines.push({ level, message });
  return { lines, logger: { info: at('info'), error: at('error'), warn: at('warn') } as unknown as FastifyBaseLogger };
}

function loop(overrides: Partial<ClaimLoopDeps<Item>>) {
  const { lines, logger } = recordingLogger();
  const handedBack: string[][] = [];
  const faults: unknown[] = [];
  const claimLoop = createClaimLoop<Item>({
    what: 'thing',
    concurrency: 2,
    pollIntervalMs: 60_000,
    logger,
    noteFault: (error) => faults.push(error),
    claim: async () => [],
    handBack: async (ids) => handedBack.push(ids),
    run: async () => undefined,
    ...overrides,
  });
  return { claimLoop, lines, handedBack, faults };
}

describe('the claim loop (job runner, webhook delivery worker)', () => {
  it('never runs two polls at once: a tick during a poll shares it', async () => {
    const claimed = deferred<Item[]>();
    let claims = 0;
    const { claimLoop } = loop({ claim: () => (claims++, claimed.promise) });
    await claimLoop.start();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const first = claimLoop.tick();
    const second = claimLoop.tick();
    expect(claims).toBe(1);
    claimed.resolve([]);
    await Promise.all([first, second]);
    await claimLoop.stop();
  });

  it('claims only what there is room for, never an item already in flight here', async () => {
    const running = deferred<void>();
    const asked: Array<{ free: number; busy: string[] }> = [];
    let next = 0;
    const { claimLoop } = loop({
      claim: async (free, busy) => {
        asked.push({ free, busy });
        return [{ id: `i${next++}` }];
      },
      run: () => running.promise,
    });
    await claimLoop.start();
    // The loop's first poll (at once) takes i0; the next takes i1; then 2 of 2 are in flight.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await claimLoop.tick();
    await claimLoop.tick();
    expect(asked).toEqual([
      { free: 2, busy: [] },
      { free: 1, busy: ['i0'] },
    ]);
    running.resolve();
    await claimLoop.stop();
  });

  it('stop waits for a poll under way, and hands back what that poll claimed without running it', async () => {
    const claimed = deferred<Item[]>();
    const ran: string[] = [];
    const { claimLoop, handedBack } = loop({ claim: () => claimed.promise, run: async (item) => void ran.push(item.id) });
    await claimLoop.start();
    await new Promise((resolve) => setTimeout(resolve, 5));
    let stopped = false;
    const stopping = claimLoop.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(stopped).toBe(false);
    claimed.resolve([{ id: 'late' }]);
    await stopping;
    expect(ran).toEqual([]);
    expect(handedBack).toContainEqual(['late']);
  });

  it('stop aborts the items in flight, waits for them, and hands them back', async () => {
    const aborted: string[] = [];
    const { claimLoop, handedBack } = loop({
      claim: async () => [{ id: 'a' }, { id: 'b' }],
      run: (item, controller) =>
        new Promise<void>((resolve) =>
          controller.signal.addEventListener('abort', () => {
            aborted.push(item.id);
            resolve();
          }),
        ),
    });
    await claimLoop.start();
    await claimLoop.tick();
    await claimLoop.stop();
    expect(aborted.sort()).toEqual(['a', 'b']);
    expect(handedBack.at(-1)?.sort()).toEqual(['a', 'b']);
  });

  it('logs a failing poll once, then at most once a minute, then once when polls work again', async () => {
    let now = 0;
    let failing = true;
    const { claimLoop, lines, faults } = loop({
      monotonicNow: () => now,
      claim: async () => {
        if (failing) throw new Error('database down');
        return [];
      },
    });
    await claimLoop.start();
    for (let i = 0; i < 5; i++) await claimLoop.tick();
    expect(lines.filter((line) => line.message === 'thing poll failed')).toHaveLength(1);
    now += POLL_FAILURE_LOG_INTERVAL_MS;
    for (let i = 0; i < 3; i++) await claimLoop.tick();
    expect(lines.filter((line) => line.message === 'thing poll failed')).toHaveLength(2);
    failing = false;
    await claimLoop.tick();
    await claimLoop.tick();
    expect(lines.filter((line) => line.message === 'thing poll works again')).toEqual([{ level: 'info', message: 'thing poll works again' }]);
    expect(faults.length).toBeGreaterThanOrEqual(8);
    await claimLoop.stop();
  });
});
