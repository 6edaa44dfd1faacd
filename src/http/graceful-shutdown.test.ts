import { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FORCE_EXIT_GRACE_MS, gracefulShutdown } from './graceful-shutdown.js';

/** Just enough of a Fastify app: close() resolves when the test says so. */
function fakeApp() {
  const server = Object.assign(new EventEmitter(), { closeAllConnections: vi.fn() });
  let finishClose: (error?: Error) => void = () => undefined;
  const close = vi.fn(
    () =>
      new Promise<void>((resolve, reject) => {
        finishClose = (error) => (error ? reject(error) : resolve());
      }),
  );
  const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const app = { server, close, log } as unknown as FastifyInstance;
  return { app, server, close, log, finishClose: (error?: Error) => finishClose(error) };
}

describe('gracefulShutdown', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes the app, then the database, and exits 0; later signals change nothing', async () => {
    const { app, close, finishClose, log } = fakeApp();
    const exit = vi.fn();
    const closeDatabase = vi.fn(async () => undefined);
    const onSignal = gracefulShutdown({ app, closeDatabase, drainMs: 10_000, exit });
    onSignal('SIGTERM');
    onSignal('SIGTERM');
    onSignal('SIGINT');
    expect(close).toHaveBeenCalledTimes(1);
    expect(log.warn).toHaveBeenCalledTimes(2);
    expect(closeDatabase).not.toHaveBeenCalled();
    finishClose();
    await vi.advanceTimersByTimeAsync(0);
    expect(closeDatabase).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
    // The force timer was cleared: nothing exits again later.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(exit).toHaveBeenCalledTimes(1);
  });

  it('cuts the connections still open at the drain bound, and exits 0 once the close completes', async () => {
    const { app, server, finishClose } = fakeApp();
    const exit = vi.fn();
    gracefulShutdown({ app, closeDatabase: async () => undefined, drainMs: 1_000, exit })('SIGTERM');
    await vi.advanceTimersByTimeAsync(999);
    expect(server.closeAllConnections).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(server.closeAllConnections).toHaveBeenCalledTimes(1);
    server.emit('close');
    finishClose();
    await vi.advanceTimersByTimeAsync(0);
    expect(exit).toHaveBeenCalledExactlyOnceWith(0);
  });

  it('does not cut anything once the server has closed by itself', async () => {
    const { app, server } = fakeApp();
    gracefulShutdown({ app, closeDatabase: async () => undefined, drainMs: 1_000, exit: vi.fn() })('SIGTERM');
    server.emit('close');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(server.closeAllConnections).not.toHaveBeenCalled();
  });

  it('exits 1 when shutting down hangs past the drain bound plus the grace', async () => {
    const { app } = fakeApp();
    const exit = vi.fn();
    gracefulShutdown({ app, closeDatabase: async () => undefined, drainMs: 1_000, exit })('SIGTERM');
    await vi.advanceTimersByTimeAsync(1_000 + FORCE_EXIT_GRACE_MS - 1);
    expect(exit).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('exits 1 when a step of the shutdown fails', async () => {
    const { app, finishClose, log } = fakeApp();
    const exit = vi.fn();
    gracefulShutdown({ app, closeDatabase: async () => Promise.reject(new Error('pool end failed')), drainMs: 1_000, exit })('SIGTERM');
    finishClose();
    await vi.advanceTimersByTimeAsync(0);
    expect(exit).toHaveBeenCalledExactlyOnceWith(1);
    expect(log.error).toHaveBeenCalled();
  });
});
