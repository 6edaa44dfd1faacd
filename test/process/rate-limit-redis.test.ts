import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedTestClerk } from '../helpers/clerk.js';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';
import { bearer } from '../helpers/harness.js';
import { freePort, startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * Issue 12 (Speed: "two instances behind one Redis"): a key's rate limit holds across real server
 * processes sharing Redis (REDIS_URL, 127.0.0.1:6379, a key prefix of this run's own), and with Redis
 * unreachable every request is still answered, never 500 and never held: each instance counts on its
 * own (the documented fallback, src/lib/rate-counters.ts).
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 200;
const REQUESTS = 3 * LIMIT;
const PARALLEL = 12;

interface Answer {
  status: number;
  body: string;
  headers: Headers;
  ms: number;
}

async function call(server: ServerProcess, method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(`${server.baseUrl}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    // Never held: a request the limiter stalled would fail the test here rather than hang it.
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: await response.text(), headers: response.headers, ms: performance.now() - started };
}

async function stop(servers: Array<ServerProcess | undefined>): Promise<void> {
  for (const server of servers) {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  }
}

function baseEnv(scratch: ScratchDatabase, clerk: ReturnType<typeof sharedTestClerk>, extra: Record<string, string>): Record<string, string> {
  return {
    DATABASE_URL: scratch.url,
    DATA_DIR: scratch.dataDir,
    CLERK_JWT_KEY: clerk.publicKeyPem,
    API_KEY_PEPPER: randomBytes(32).toString('base64'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ...extra,
  };
}

async function createLimitedKey(server: ServerProcess, user: Record<string, string>, requests: number): Promise<string> {
  const created = await call(server, 'POST', '/api-keys', user, { name: 'limited', scopes: ['clusters:read'], rate_limit: { requests, per_seconds: 60 } });
  expect(created.status, created.body).toBe(201);
  return (JSON.parse(created.body) as { key: string }).key;
}

describe.skipIf(TEST_DIALECT !== 'postgres')(
  'a key rate limit across two server processes sharing Redis (PostgreSQL only: two instances share one database; run with TEST_DB=postgres)',
  () => {
    const clerk = sharedTestClerk();
    const prefix = `skd-test:${randomBytes(6).toString('hex')}`;
    let scratch: ScratchDatabase | undefined;
    let a: ServerProcess | undefined;
    let b: ServerProcess | undefined;

    afterAll(async () => {
      await stop([a, b]);
      await scratch?.drop();
      // This run's counters only (they expire within the minute anyway).
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        const keys = await redis.keys(`${prefix}:*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    });

    it(`accepts ${LIMIT} requests in all (within 5%) from ${REQUESTS} sent to both instances at once`, async () => {
      scratch = await createScratchDatabase();
      const env = baseEnv(scratch, clerk, { REDIS_URL, REDIS_KEY_PREFIX: prefix });
      // One after the other: the first migrates the fresh database.
      a = await startServer(env);
      b = await startServer(env);
      const user = bearer(await clerk.session({}, { expiresInSeconds: 3600 }));
      const key = bearer(await createLimitedKey(a, user, LIMIT));

      const answers: Answer[] = [];
      let sent = 0;
      const servers = [a, b];
      await Promise.all(
        Array.from({ length: PARALLEL }, async (_, loop) => {
          while (sent < REQUESTS) {
            sent++;
            answers.push(await call(servers[(loop + sent) % 2]!, 'GET', '/clusters', key));
          }
        }),
      );
      const statuses = new Map<number, number>();
      for (const answer of answers) statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const accepted = statuses.get(200) ?? 0;
      console.log(`[rate-limit-redis] ${answers.length} requests over two instances: ${JSON.stringify(Object.fromEntries(statuses))} (limit ${LIMIT})`);
      expect([...statuses.keys()].sort()).toEqual([200, 429]);
      expect(Math.abs(accepted - LIMIT)).toBeLessThanOrEqual(LIMIT * 0.05);
      for (const answer of answers) {
        expect(answer.headers.get('ratelimit-policy')).toBe(`"api-key";q=${LIMIT};w=60`);
        expect(answer.headers.get('ratelimit')).toMatch(/^"api-key";r=\d+;t=\d+$/);
        if (answer.status === 429) {
          expect(JSON.parse(answer.body)).toMatchObject({ code: 'rate_limited' });
          expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        }
      }
      // Both instances refused some: the count was shared, not per instance.
      expect(answers.filter((answer) => answer.status === 429).length).toBeGreaterThan(REQUESTS - LIMIT - LIMIT * 0.05 - 1);
    }, 60_000);
  },
);

describe('with REDIS_URL pointing at a closed port', () => {
  const clerk = sharedTestClerk();
  let scratch: ScratchDatabase | undefined;
  let server: ServerProcess | undefined;

  afterAll(async () => {
    await stop([server]);
    await scratch?.drop();
  });

  it('still answers every request (never 500, never held), counting in the instance, and warns once', async () => {
    scratch = await createScratchDatabase();
    const closed = await freePort();
    server = await startServer(baseEnv(scratch, clerk, { REDIS_URL: `redis://127.0.0.1:${closed}` }));
    const user = bearer(await clerk.session({}, { expiresInSeconds: 3600 }));
    const key = bearer(await createLimitedKey(server, user, 5));
    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push(await call(server, 'GET', '/clusters', key));
    expect(answers.map((answer) => answer.status)).toEqual([...Array(5).fill(200), ...Array(7).fill(429)]);
    for (const answer of answers) expect(answer.ms).toBeLessThan(2_000);
    expect(answers[0]!.headers.get('ratelimit-policy')).toBe('"api-key";q=5;w=60');
    // Unlimited traffic is untouched by the limiter.
    expect((await call(server, 'GET', '/me', user)).status).toBe(200);
    const warnings = server.output().split('\n').filter((line) => line.includes('Redis is unreachable'));
    expect(warnings.length).toBe(1);
  }, 60_000);
});
