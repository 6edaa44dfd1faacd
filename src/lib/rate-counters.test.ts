import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRateCounters, type HitResult } from './rate-counters.js';

// Redis as on the project's machines and in CI (.ci/run starts it; see shared/services.md).
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('createRateCounters with Redis', () => {
  const prefix = `skd-unit:${randomBytes(6).toString('hex')}`;
  const inspect = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  afterAll(async () => {
    const keys = await inspect.keys(`${prefix}:*`);
    if (keys.length > 0) await inspect.del(...keys);
    inspect.disconnect();
  });

  it('counts in Redis up to the limit, then refuses from memory without growing the shared count', async () => {
    const counters = createRateCounters({ redisUrl: REDIS_URL, keyPrefix: prefix, warn: () => undefined });
    const window = { requests: 3, perSeconds: 60 };
    // The first command may find the connection not ready yet (then it is counted in process): wait for it.
    for (let i = 0; i < 100 && (await inspect.ping().catch(() => null)) !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const hits = [];
    for (let i = 0; i < 10; i++) hits.push(await new Promise<HitResult>((resolve) => counters.hit('key', 'key_1', window, resolve)));
    expect(hits.map((hit) => hit.allowed)).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(hits.map((hit) => hit.remaining)).toEqual([2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (const hit of hits) expect(hit.resetSeconds).toBeGreaterThanOrEqual(59);
    const stored = await inspect.get(`${prefix}:key:3/60:key_1`);
    expect(Number(stored)).toBe(3);
    await counters.close();
  });
});
