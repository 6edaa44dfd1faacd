import type { AddressInfo } from 'node:net';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { generateApiKey } from '../../src/auth/api-key-format.js';
import type * as ApiKeyFormat from '../../src/auth/api-key-format.js';
import { loadConfig } from '../../src/config.js';
import { createRuntimeDeps, type RuntimeDeps } from '../../src/deps.js';
import { LAST_USED_FLUSH_DELAY_MS, LAST_USED_WRITE_INTERVAL_MS } from '../../src/modules/api-keys/last-used.js';
import { sharedTestClerk } from '../helpers/clerk.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/database.js';
import { bearer, startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';
import { around, now, sleep, startLoad, type LoadLoop, type Sample } from '../helpers/load.js';
import { MovableClock } from '../helpers/movable-clock.js';
import { tablesOf } from '../helpers/statements.js';

// The keys the server generates next, when a test needs to know one in advance (negative-cache eviction).
const generated = vi.hoisted(() => ({ next: [] as string[] }));
vi.mock('../../src/auth/api-key-format.js', async (importOriginal) => {
  const actual = await importOriginal<typeof ApiKeyFormat>();
  return { ...actual, generateApiKey: () => generated.next.shift() ?? actual.generateApiKey() };
});

const KEY_LOOPS = 20;
const CONTROL_LOOPS = 4;

async function listen(app: App): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/**
 * Same-instance bound (security-test-plan §2.5, T28 a): key K under a steady stream of requests from
 * KEY_LOOPS loops (and a control key C from CONTROL_LOOPS more) while `change` happens; returns the
 * samples and the instant `change` returned (for HTTP changes: the response arrived).
 */
async function changeUnderLoad(base: string, key: string, control: string, change: () => Promise<void>) {
  const loops: LoadLoop[] = [
    ...Array.from({ length: KEY_LOOPS }, () => ({ name: 'K', url: `${base}/me`, headers: bearer(key) })),
    ...Array.from({ length: CONTROL_LOOPS }, () => ({ name: 'C', url: `${base}/me`, headers: bearer(control) })),
  ];
  const load = startLoad(loops, { maxRequestsPerLoop: 2000, maxMs: 15_000 });
  const count = (predicate: (sample: Sample) => boolean) => load.samples.filter(predicate).length;
  // Warm: K is cached and served many times before the change.
  await waitFor(async () => (count((s) => s.loop === 'K' && s.status === 200) >= 100 ? true : undefined), 10_000, 5);
  await change();
  const changedAt = now();
  // Keep the stream going well past the change.
  await waitFor(async () => (count((s) => s.loop === 'K' && s.sentAt > changedAt) >= 200 ? true : undefined), 10_000, 5);
  const samples = await load.stop();
  return { samples, changedAt, key: around(samples, 'K', changedAt), control: around(samples, 'C', changedAt) };
}

function expectRefusedFromTheNextRequest(result: Awaited<ReturnType<typeof changeUnderLoad>>): void {
  expect(result.key.okBefore).toBeGreaterThanOrEqual(100);
  expect(result.key.after.length).toBeGreaterThanOrEqual(200);
  // No request sent after the change returned succeeded; every one of them was a clean 401.
  expect(result.key.okAfter).toEqual([]);
  expect(result.key.statusesAfter).toEqual([401]);
  // The control key never failed.
  expect(result.control.total).toBeGreaterThan(0);
  expect(result.samples.filter((s) => s.loop === 'C' && s.status !== 200)).toEqual([]);
}

describe(`auth caches: revocation under concurrent load on one instance (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;
  let base: string;
  let user: Account;

  beforeAll(async () => {
    h = await startHarness({ clock });
    base = await listen(h.app);
    user = await h.newAccount();
  });
  afterAll(async () => h?.close());

  const http = (method: string, url: string, body?: unknown) =>
    fetch(`${base}${url}`, {
      method,
      headers: { ...user.auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const me = async (key: string) => (await fetch(`${base}/me`, { headers: bearer(key) })).status;

  it('revoke: no request sent after the DELETE response is accepted', async () => {
    const k = await h.createKey(user);
    const c = await h.createKey(user);
    const result = await changeUnderLoad(base, k.key, c.key, async () => {
      expect((await http('DELETE', `/api-keys/${k.id}`)).status).toBe(204);
    });
    expectRefusedFromTheNextRequest(result);
  });

  it('roll with zero grace: the old secret is refused from the next request, the new one works at once', async () => {
    const k = await h.createKey(user, ['clusters:read']);
    const c = await h.createKey(user);
    let rolledKey = '';
    const result = await changeUnderLoad(base, k.key, c.key, async () => {
      const response = await http('POST', `/api-keys/${k.id}/roll`, { expires_in_seconds: 0 });
      expect(response.status).toBe(200);
      rolledKey = ((await response.json()) as { key: string }).key;
    });
    expectRefusedFromTheNextRequest(result);
    expect(await me(rolledKey)).toBe(200);
  });

  it('roll with a grace period: the old secret works until the grace ends on the server clock, not a request longer', async () => {
    const k = await h.createKey(user);
    const c = await h.createKey(user);
    const rolled = await http('POST', `/api-keys/${k.id}/roll`, { expires_in_seconds: 600 });
    expect(rolled.status).toBe(200);
    const newKey = ((await rolled.json()) as { key: string }).key;
    const result = await changeUnderLoad(base, k.key, c.key, async () => clock.advance(601_000));
    expectRefusedFromTheNextRequest(result);
    expect(await me(newKey)).toBe(200);
  });

  it('expiry: a cached key is refused from the first request after expires_at passes on the server clock', async () => {
    const k = await h.createKey(user, undefined, { expires_at: new Date(clock.now().getTime() + 3_600_000).toISOString() });
    const c = await h.createKey(user);
    const result = await changeUnderLoad(base, k.key, c.key, async () => clock.advance(3_601_000));
    expectRefusedFromTheNextRequest(result);
  });

  it('a revoked key stays refused on later requests, and rolling it is refused', async () => {
    const k = await h.createKey(user);
    expect(await me(k.key)).toBe(200);
    expect((await http('DELETE', `/api-keys/${k.id}`)).status).toBe(204);
    expect(await me(k.key)).toBe(401);
    expect((await http('POST', `/api-keys/${k.id}/roll`)).status).toBe(409);
    expect(await me(k.key)).toBe(401);
  });

  it('a key created with a digest that was just looked up as unknown works at once (negative cache evicted)', async () => {
    const upcoming = generateApiKey();
    // Looked up twice: the second answer comes from the negative cache.
    expect(await me(upcoming)).toBe(401);
    expect(await me(upcoming)).toBe(401);
    generated.next.push(upcoming);
    const created = await http('POST', '/api-keys', { name: 'foreseen' });
    expect(created.status).toBe(201);
    expect(((await created.json()) as { key: string }).key).toBe(upcoming);
    expect(await me(upcoming)).toBe(200);
  });

  it('a rolled-in secret that was just looked up as unknown works at once', async () => {
    const k = await h.createKey(user);
    const upcoming = generateApiKey();
    expect(await me(upcoming)).toBe(401);
    expect(await me(upcoming)).toBe(401);
    generated.next.push(upcoming);
    const rolled = await http('POST', `/api-keys/${k.id}/roll`);
    expect(rolled.status).toBe(200);
    expect(((await rolled.json()) as { key: string }).key).toBe(upcoming);
    expect(await me(upcoming)).toBe(200);
    expect(await me(k.key)).toBe(401);
  });
});

/**
 * Counts statements on api_keys as the app runs them (a Kysely plugin on the app's own instance): the
 * query is recognised when it is built and counted each time a result comes back, so a query built
 * once and run many times (the key lookup is) counts once per run.
 */
class ApiKeyStatements implements KyselyPlugin {
  updates = 0;
  selects = 0;
  readonly #kinds = new WeakMap<object, 'update' | 'select'>();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (tablesOf(args.node).includes('api_keys')) {
      if (args.node.kind === 'UpdateQueryNode') this.#kinds.set(args.queryId, 'update');
      if (args.node.kind === 'SelectQueryNode') this.#kinds.set(args.queryId, 'select');
    }
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const kind = this.#kinds.get(args.queryId);
    if (kind === 'update') this.updates++;
    if (kind === 'select') this.selects++;
    return args.result;
  }

  reset(): void {
    this.updates = 0;
    this.selects = 0;
  }
}

describe(`auth caches: database work per request (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  const statements = new ApiKeyStatements();
  const clerk = sharedTestClerk();
  let scratch: ScratchDatabase;
  let deps: RuntimeDeps;
  let app: App;
  let base: string;
  let user: { auth: { authorization: string } };
  let verifications = 0;
  let closed = false;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    // AUTH_FAILURE_LIMIT off: these tests count the work of many invalid credentials from one address.
    const config = loadConfig({ DATABASE_URL: scratch.url, DATA_DIR: scratch.dataDir, CLERK_JWT_KEY: clerk.publicKeyPem, LOG_LEVEL: 'silent', AUTH_FAILURE_LIMIT: 'off' });
    deps = await createRuntimeDeps(config, { runJobs: false });
    deps.clock = clock;
    deps.database = { ...deps.database, db: deps.database.db.withPlugin(statements) };
    const verify = deps.verifySession;
    deps.verifySession = async (token) => {
      verifications++;
      return verify(token);
    };
    app = await buildApp(deps);
    base = await listen(app);
    user = { auth: bearer(await clerk.session({}, { expiresInSeconds: 3600 })) };
  });
  afterAll(async () => {
    if (!closed) await app?.close();
    await deps?.database.close();
    await scratch?.drop();
  });

  const createKey = async (): Promise<{ id: string; key: string }> => {
    const response = await fetch(`${base}/api-keys`, {
      method: 'POST',
      headers: { ...user.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'counted' }),
    });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; key: string };
  };
  const hammer = async (headers: Record<string, string>, requests: number, loops = 10): Promise<number[]> => {
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: loops }, async () => {
        for (let i = 0; i < requests / loops; i++) {
          const response = await fetch(`${base}/me`, { headers });
          await response.arrayBuffer();
          statuses.push(response.status);
        }
      }),
    );
    return statuses;
  };
  const lastUsed = async (id: string): Promise<string | null> =>
    (await deps.database.db.selectFrom('api_keys').select('last_used_at').where('id', '=', id).executeTakeFirstOrThrow()).last_used_at;

  it('a hot key reads the database once; an unknown key once; a bad checksum never', async () => {
    const { key } = await createKey();
    await sleep(LAST_USED_FLUSH_DELAY_MS + 200);
    statements.reset();
    expect(new Set(await hammer(bearer(key), 200))).toEqual(new Set([200]));
    expect(statements.selects).toBe(1);

    // The filter of stored digests answers an unknown key without a query at all (on PostgreSQL after the
    // change feed's barrier, which is a notification, not a read).
    statements.reset();
    const unknown = generateApiKey();
    expect(new Set(await hammer(bearer(unknown), 100))).toEqual(new Set([401]));
    expect(statements.selects).toBe(0);

    statements.reset();
    const invented = Array.from({ length: 50 }, () => generateApiKey());
    const statuses = await Promise.all(invented.map(async (k) => (await fetch(`${base}/me`, { headers: bearer(k) })).status));
    expect(new Set(statuses)).toEqual(new Set([401]));
    expect(statements.selects).toBe(0);

    // A key created now is known at once: never refused as "unknown" by the filter (the key store adds
    // every new digest to it after the commit and before the secret is returned). The same for a secret
    // rolled in now. Either check fails if a create or roll path ever skips the filter.
    const fresh = await createKey();
    expect((await fetch(`${base}/me`, { headers: bearer(fresh.key) })).status).toBe(200);
    const rolled = await fetch(`${base}/api-keys/${fresh.id}/roll`, { method: 'POST', headers: user.auth });
    expect(rolled.status).toBe(200);
    const rolledKey = ((await rolled.json()) as { key: string }).key;
    expect((await fetch(`${base}/me`, { headers: bearer(rolledKey) })).status).toBe(200);

    statements.reset();
    const badChecksum = `${unknown.slice(0, -1)}${unknown.endsWith('A') ? 'B' : 'A'}`;
    expect(new Set(await hammer(bearer(badChecksum), 100))).toEqual(new Set([401]));
    expect(statements.selects).toBe(0);
  });

  it('a hot session token is verified once, and refused once its exp (and the clock skew) has passed', async () => {
    const token = await clerk.session({}, { expiresInSeconds: 2 });
    const expMs = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp * 1000;
    verifications = 0;
    expect(new Set(await hammer(bearer(token), 100))).toEqual(new Set([200]));
    expect(verifications).toBe(1);

    // Past exp the cached answer is never served again; the verifier accepts within its 5 s clock
    // skew and refuses after it, whatever the cache held.
    const wall = () => Date.now();
    const samples: Array<{ sentAt: number; status: number }> = [];
    while (wall() < expMs + 5000 + 500) {
      const sentAt = wall();
      const response = await fetch(`${base}/me`, { headers: bearer(token) });
      await response.arrayBuffer();
      samples.push({ sentAt, status: response.status });
      await sleep(20);
    }
    const afterExp = samples.filter((s) => s.sentAt >= expMs);
    expect(afterExp.length).toBeGreaterThan(20);
    expect(verifications).toBeGreaterThanOrEqual(afterExp.length);
    expect(samples.filter((s) => s.sentAt >= expMs + 5000 && s.status !== 401)).toEqual([]);
    expect(samples.filter((s) => s.sentAt >= expMs + 5000).length).toBeGreaterThan(0);
  });

  it('last_used_at: one batched UPDATE for many keys and requests, none more within the interval, flushed on close', async () => {
    const keys = await Promise.all(Array.from({ length: 5 }, () => createKey()));
    await sleep(LAST_USED_FLUSH_DELAY_MS + 200);
    statements.reset();
    const usedFrom = clock.now().getTime();
    await Promise.all(keys.map(async ({ key }) => expect(new Set(await hammer(bearer(key), 40, 4))).toEqual(new Set([200]))));
    // Written behind the requests, within the flush delay, for every key, in one statement.
    for (const { id } of keys) {
      const at = await waitFor(async () => (await lastUsed(id)) ?? undefined, LAST_USED_FLUSH_DELAY_MS + 2000, 25);
      expect(Date.parse(at)).toBeGreaterThanOrEqual(usedFrom - 1000);
      expect(Date.parse(at)).toBeLessThanOrEqual(clock.now().getTime());
    }
    expect(statements.updates).toBe(1);

    // More use within the interval writes nothing.
    const [first, second] = keys as [{ id: string; key: string }, { id: string; key: string }];
    const firstWritten = await lastUsed(first.id);
    await hammer(bearer(first.key), 100);
    await sleep(LAST_USED_FLUSH_DELAY_MS + 300);
    expect(statements.updates).toBe(1);
    expect(await lastUsed(first.id)).toBe(firstWritten);

    // After the interval, the next use is written again (once).
    clock.advance(LAST_USED_WRITE_INTERVAL_MS + 1000);
    await hammer(bearer(first.key), 20, 2);
    await waitFor(async () => ((await lastUsed(first.id)) !== firstWritten ? true : undefined), LAST_USED_FLUSH_DELAY_MS + 2000, 25);
    expect(statements.updates).toBe(2);

    // A use noted right before shutdown is written by close, not lost.
    const secondWritten = await lastUsed(second.id);
    expect((await fetch(`${base}/me`, { headers: bearer(second.key) })).status).toBe(200);
    closed = true;
    await app.close();
    expect(await lastUsed(second.id)).not.toBe(secondWritten);
    expect(Date.parse((await lastUsed(second.id)) ?? '')).toBeGreaterThanOrEqual(clock.now().getTime() - 5000);
    expect(statements.updates).toBe(3);
  });
});
