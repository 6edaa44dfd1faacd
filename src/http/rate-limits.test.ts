import { describe, expect, it } from 'vitest';
import { createRateCounters, type HitResult } from '../lib/rate-counters.js';
import { createRequestLimits } from './rate-limits.js';

const counters = () => createRateCounters({ redisUrl: null, warn: () => undefined });
const settle = () => new Promise((resolve) => setImmediate(resolve));
const hitKey = (limits: ReturnType<typeof createRequestLimits>, keyId: string, limit: { requests: number; perSeconds: number }) =>
  new Promise<HitResult>((resolve) => limits.hitKey(keyId, limit, resolve));

describe('createRequestLimits', () => {
  it('a key uses its own limit, else the default, else none', () => {
    const limits = createRequestLimits({ counters: counters(), keyDefault: { requests: 5, perSeconds: 60 }, authFailures: null });
    const key = { rateLimit: null } as Parameters<typeof limits.limitOf>[0];
    expect(limits.limitOf(key)).toEqual({ requests: 5, perSeconds: 60 });
    expect(limits.limitOf({ ...key, rateLimit: { requests: 1, perSeconds: 1 } })).toEqual({ requests: 1, perSeconds: 1 });
    const none = createRequestLimits({ counters: counters(), keyDefault: null, authFailures: null });
    expect(none.limitOf(key)).toBeNull();
  });

  it('counts a key in its window: remaining goes down, the hit past the limit is refused', async () => {
    const limits = createRequestLimits({ counters: counters(), keyDefault: null, authFailures: null });
    const hits = [];
    for (let i = 0; i < 4; i++) hits.push(await hitKey(limits, 'key_a', { requests: 3, perSeconds: 60 }));
    expect(hits.map((hit) => [hit.allowed, hit.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    for (const hit of hits) expect(hit.resetSeconds).toBeGreaterThanOrEqual(59);
    expect((await hitKey(limits, 'key_b', { requests: 3, perSeconds: 60 })).remaining).toBe(2);
  });

  it('remembers a key over its limit until the window ends, under that same limit only', async () => {
    let now = 5_000_000;
    const limits = createRequestLimits({ counters: counters(), keyDefault: null, authFailures: null, now: () => now });
    const limit = { requests: 1, perSeconds: 60 };
    expect(limits.spentKey('key_a', limit)).toBeNull();
    expect((await hitKey(limits, 'key_a', limit)).allowed).toBe(true);
    expect(limits.spentKey('key_a', limit)).toBeNull();
    expect((await hitKey(limits, 'key_a', limit)).allowed).toBe(false);
    expect(limits.spentKey('key_a', limit)).toMatchObject({ allowed: false, remaining: 0 });
    expect(limits.spentKey('key_a', limit)!.resetSeconds).toBeGreaterThanOrEqual(59);
    // A PATCHed limit is counted anew.
    expect(limits.spentKey('key_a', { requests: 10, perSeconds: 60 })).toBeNull();
    expect((await hitKey(limits, 'key_a', limit)).allowed).toBe(false);
    now += 61_000;
    expect(limits.spentKey('key_a', limit)).toBeNull();
  });

  it('throttles an address once its invalid credentials reach the limit, until the window ends', async () => {
    let now = 1_000_000;
    const limits = createRequestLimits({ counters: counters(), keyDefault: null, authFailures: { requests: 3, perSeconds: 60 }, now: () => now });
    const from = { ip: '198.51.100.1' };
    for (let i = 0; i < 2; i++) limits.noteInvalidCredential(from.ip);
    await settle();
    expect(limits.throttledFor(from)).toBe(0);
    limits.noteInvalidCredential(from.ip);
    await settle();
    expect(limits.throttledFor(from)).toBeGreaterThanOrEqual(59);
    expect(limits.throttledFor({ ip: '198.51.100.2' })).toBe(0);
    now += 61_000;
    expect(limits.throttledFor(from)).toBe(0);
  });

  it('reads no client address while nothing is throttled, and never throttles when off', async () => {
    const limits = createRequestLimits({ counters: counters(), keyDefault: null, authFailures: null });
    for (let i = 0; i < 100; i++) limits.noteInvalidCredential('198.51.100.1');
    await settle();
    const untouchable = {
      get ip(): string {
        throw new Error('read');
      },
    };
    expect(limits.throttledFor(untouchable)).toBe(0);
  });
});
