import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { tablesOf } from '../helpers/statements.js';

/**
 * `rate_limit` on API keys and the invalid-credential throttle (CONTRACT §7, issue 12), through the HTTP
 * stack: a key's own limit or RATE_LIMIT_DEFAULT, 429 rate_limited with Retry-After, the RateLimit-Policy
 * and RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10) on every response to a limited key, and
 * AUTH_FAILURE_LIMIT per client address, refused before any lookup.
 */

interface KeyBody {
  id: string;
  key: string;
  rate_limit: { requests: number; per_seconds: number } | null;
}

type Response = Awaited<ReturnType<Harness['inject']>>;

/** Counts the statements that touch api_keys (each run of the compiled key lookup included). */
class KeyStatements implements KyselyPlugin {
  count = 0;
  readonly #watched = new WeakSet<object>();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (tablesOf(args.node).includes('api_keys')) this.#watched.add(args.queryId);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#watched.has(args.queryId)) this.count++;
    return args.result;
  }
}

const as = (key: string, remoteAddress = '127.0.0.1') => ({ headers: { authorization: `Bearer ${key}` }, remoteAddress });

function policyOf(response: Response): { q: number; w: number } {
  const match = /^"api-key";q=(\d+);w=(\d+)$/.exec(String(response.headers['ratelimit-policy']));
  expect(match, `RateLimit-Policy: ${String(response.headers['ratelimit-policy'])}`).not.toBeNull();
  return { q: Number(match![1]), w: Number(match![2]) };
}

function windowOf(response: Response): { r: number; t: number } {
  const match = /^"api-key";r=(\d+);t=(\d+)$/.exec(String(response.headers.ratelimit));
  expect(match, `RateLimit: ${String(response.headers.ratelimit)}`).not.toBeNull();
  return { r: Number(match![1]), t: Number(match![2]) };
}

function expectRateLimited(response: Response, detail: RegExp): void {
  expect(response.statusCode, response.body).toBe(429);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body.code).toBe('rate_limited');
  expect(body.detail).toMatch(detail);
  const retryAfter = Number(response.headers['retry-after']);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${String(response.headers['retry-after'])}`).toBe(true);
}

describe(`API key rate limits (${TEST_DIALECT})`, () => {
  let h: Harness;
  let withDefault: Harness;
  let throttled: Harness;
  let a: Account;
  const statements = new KeyStatements();

  const create = async (harness: Harness, account: Account, payload: Record<string, unknown>) => {
    const response = await harness.inject({ method: 'POST', url: '/api-keys', headers: account.auth, payload: { name: 'limited', ...payload } });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as KeyBody;
  };
  const get = (harness: Harness, url: string, request: { headers: Record<string, string>; remoteAddress: string }) =>
    harness.inject({ method: 'GET', url, headers: request.headers, remoteAddress: request.remoteAddress });

  beforeAll(async () => {
    h = await startHarness();
    withDefault = await startHarness({ env: { RATE_LIMIT_DEFAULT: '3/60' } });
    throttled = await startHarness({ env: { AUTH_FAILURE_LIMIT: '5/60', AUTH_CACHE_TTL_MS: '0' }, plugins: [statements] });
    a = await h.newAccount();
  });
  afterAll(async () => {
    await h?.close();
    await withDefault?.close();
    await throttled?.close();
  });

  it('enforces a key limit: the RateLimit fields on every 2xx, then 429 rate_limited with Retry-After', async () => {
    const key = await create(h, a, { scopes: ['clusters:read'], rate_limit: { requests: 3, per_seconds: 60 } });
    expect(key.rate_limit).toEqual({ requests: 3, per_seconds: 60 });
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ok = await get(h, '/clusters', as(key.key));
      expect(ok.statusCode, ok.body).toBe(200);
      expect(policyOf(ok)).toEqual({ q: 3, w: 60 });
      const window = windowOf(ok);
      expect(window.t).toBeGreaterThanOrEqual(1);
      expect(window.t).toBeLessThanOrEqual(60);
      remaining.push(window.r);
    }
    expect(remaining).toEqual([2, 1, 0]);
    const refused = await get(h, '/clusters', as(key.key));
    expectRateLimited(refused, /over its rate limit/);
    expect(policyOf(refused)).toEqual({ q: 3, w: 60 });
    expect(windowOf(refused).r).toBe(0);
    expect(Number(refused.headers['retry-after'])).toBe(windowOf(refused).t);
    // Refused again (now without counting) with the same fields until the window ends.
    for (let i = 0; i < 3; i++) {
      const again = await get(h, '/clusters', as(key.key));
      expectRateLimited(again, /over its rate limit/);
      expect(policyOf(again)).toEqual({ q: 3, w: 60 });
      expect(windowOf(again).r).toBe(0);
      expect(Number(again.headers['retry-after'])).toBe(windowOf(again).t);
    }
  });

  it('counts every request of the key, and a scope refusal keeps its seed wording and carries the fields', async () => {
    const key = await create(h, a, { scopes: ['clusters:read'], rate_limit: { requests: 2, per_seconds: 60 } });
    const forbidden = await get(h, '/jobs', as(key.key));
    expect(forbidden.statusCode).toBe(403);
    expect((forbidden.json() as Problem).detail).toBe('API key missing required scope: jobs:read');
    expect(windowOf(forbidden).r).toBe(1);
    expect((await get(h, '/clusters', as(key.key))).statusCode).toBe(200);
    expectRateLimited(await get(h, '/jobs', as(key.key)), /over its rate limit/);
  });

  it('counts each key on its own, and a key without a limit (and no default) carries no fields', async () => {
    const first = await create(h, a, { scopes: ['clusters:read'], rate_limit: { requests: 1, per_seconds: 60 } });
    const second = await create(h, a, { scopes: ['clusters:read'], rate_limit: { requests: 1, per_seconds: 60 } });
    const free = await create(h, a, { scopes: ['clusters:read'] });
    expect(free.rate_limit).toBeNull();
    expect((await get(h, '/clusters', as(first.key))).statusCode).toBe(200);
    expectRateLimited(await get(h, '/clusters', as(first.key)), /over its rate limit/);
    expect((await get(h, '/clusters', as(second.key))).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) {
      const response = await get(h, '/clusters', as(free.key));
      expect(response.statusCode).toBe(200);
      expect(response.headers['ratelimit-policy']).toBeUndefined();
      expect(response.headers.ratelimit).toBeUndefined();
    }
    // A user session is never counted.
    const session = await h.inject({ method: 'GET', url: '/clusters', headers: a.auth });
    expect(session.headers['ratelimit-policy']).toBeUndefined();
  });

  it('PATCH changes the limit from the next request; null returns the key to the server default', async () => {
    const key = await create(h, a, { scopes: ['clusters:read'], rate_limit: { requests: 1, per_seconds: 60 } });
    expect((await get(h, '/clusters', as(key.key))).statusCode).toBe(200);
    expectRateLimited(await get(h, '/clusters', as(key.key)), /over its rate limit/);
    const raised = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { rate_limit: { requests: 10, per_seconds: 30 } } });
    expect(raised.statusCode, raised.body).toBe(200);
    expect(raised.json()).toMatchObject({ rate_limit: { requests: 10, per_seconds: 30 } });
    const next = await get(h, '/clusters', as(key.key));
    expect(next.statusCode).toBe(200);
    expect(policyOf(next)).toEqual({ q: 10, w: 30 });
    const cleared = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { rate_limit: null } });
    expect(cleared.json()).toMatchObject({ rate_limit: null });
    const unlimited = await get(h, '/clusters', as(key.key));
    expect(unlimited.statusCode).toBe(200);
    expect(unlimited.headers['ratelimit-policy']).toBeUndefined();
  });

  it.each([
    ['requests 0', { requests: 0, per_seconds: 60 }, 'rate_limit'],
    ['negative requests', { requests: -5, per_seconds: 60 }, 'rate_limit'],
    ['absurd requests', { requests: 1_000_001, per_seconds: 60 }, 'rate_limit'],
    ['per_seconds 0', { requests: 10, per_seconds: 0 }, 'rate_limit'],
    ['a window over a day', { requests: 10, per_seconds: 86_401 }, 'rate_limit'],
    ['a fraction', { requests: 1.5, per_seconds: 60 }, 'rate_limit'],
    ['a missing field', { requests: 10 }, 'rate_limit'],
    ['an unknown field', { requests: 10, per_seconds: 60, burst: 5 }, 'rate_limit'],
    ['a string', '600/60', 'rate_limit'],
  ])('%s → 400 validation_failed naming rate_limit, at creation and in PATCH; nothing stored changes', async (_name, limit, field) => {
    const before = (await h.inject({ method: 'GET', url: '/api-keys?limit=100', headers: a.auth })).json() as { data: unknown[] };
    const created = await h.inject({ method: 'POST', url: '/api-keys', headers: a.auth, payload: { name: 'x', rate_limit: limit } });
    expect(created.statusCode).toBe(400);
    expect((created.json() as Problem).code).toBe('validation_failed');
    expect(JSON.stringify((created.json() as { errors: unknown }).errors)).toContain(field);
    const after = (await h.inject({ method: 'GET', url: '/api-keys?limit=100', headers: a.auth })).json() as { data: unknown[] };
    expect(after.data.length).toBe(before.data.length);

    const key = await create(h, a, { scopes: ['clusters:read'], rate_limit: { requests: 7, per_seconds: 60 } });
    const patched = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { rate_limit: limit, name: 'renamed' } });
    expect(patched.statusCode).toBe(400);
    expect(JSON.stringify((patched.json() as { errors: unknown }).errors)).toContain(field);
    const stored = (await h.inject({ method: 'GET', url: `/api-keys/${key.id}`, headers: a.auth })).json() as KeyBody & { name: string };
    expect(stored.rate_limit).toEqual({ requests: 7, per_seconds: 60 });
    expect(stored.name).toBe('limited');
  });

  it('a key without its own limit gets RATE_LIMIT_DEFAULT; its own limit wins over the default', async () => {
    const b = await withDefault.newAccount();
    const plain = await create(withDefault, b, { scopes: ['clusters:read'] });
    expect(plain.rate_limit).toBeNull();
    for (let i = 0; i < 3; i++) {
      const ok = await get(withDefault, '/clusters', as(plain.key));
      expect(ok.statusCode).toBe(200);
      expect(policyOf(ok)).toEqual({ q: 3, w: 60 });
    }
    expectRateLimited(await get(withDefault, '/clusters', as(plain.key)), /over its rate limit/);
    const own = await create(withDefault, b, { scopes: ['clusters:read'], rate_limit: { requests: 5, per_seconds: 10 } });
    for (let i = 0; i < 5; i++) expect((await get(withDefault, '/clusters', as(own.key))).statusCode).toBe(200);
    expectRateLimited(await get(withDefault, '/clusters', as(own.key)), /over its rate limit/);
  });

  it('throttles invalid credentials per client address: 429 after AUTH_FAILURE_LIMIT, with no database read, other addresses unaffected', async () => {
    const c = await throttled.newAccount();
    const valid = await create(throttled, c, { scopes: ['clusters:read'] });
    const revoked = await create(throttled, c, { scopes: ['clusters:read'] });
    expect((await throttled.inject({ method: 'DELETE', url: `/api-keys/${revoked.id}`, headers: c.auth })).statusCode).toBe(204);
    const attacker = '198.51.100.23';

    // A revoked key's digest is known and the key cache is off here: each attempt is a real lookup.
    statements.count = 0;
    for (let i = 0; i < 5; i++) {
      const refused = await get(throttled, '/clusters', as(revoked.key, attacker));
      expect(refused.statusCode).toBe(401);
      expect((refused.json() as Problem).code).toBe('invalid_token');
    }
    expect(statements.count).toBeGreaterThanOrEqual(5);

    statements.count = 0;
    for (let i = 0; i < 20; i++) expectRateLimited(await get(throttled, '/clusters', as(revoked.key, attacker)), /Too many invalid credentials/);
    // Any credential from there waits too (a valid key included): it is not even looked up.
    expectRateLimited(await get(throttled, '/clusters', as(valid.key, attacker)), /Too many invalid credentials/);
    expectRateLimited(await throttled.inject({ method: 'GET', url: '/clusters', headers: { authorization: 'Bearer not-a-jwt' }, remoteAddress: attacker }), /Too many/);
    // A malformed URL (answered by the router, which still answers credentials first) is no way round it.
    expectRateLimited(await throttled.inject({ method: 'GET', url: '/clusters/%zz', headers: { authorization: `Bearer ${valid.key}` }, remoteAddress: attacker }), /Too many/);
    expect(statements.count).toBe(0);
    // The registry token realm is throttled the same way, before any lookup.
    const basic = `Basic ${Buffer.from(`x:${revoked.key}`).toString('base64')}`;
    const realm = await throttled.inject({ method: 'GET', url: '/registry/token?service=registry.example.com', headers: { authorization: basic }, remoteAddress: attacker });
    expectRateLimited(realm, /Too many invalid credentials/);
    expect(statements.count).toBe(0);

    // A valid key from another address is served as usual.
    const elsewhere = await get(throttled, '/clusters', as(valid.key, '203.0.113.10'));
    expect(elsewhere.statusCode).toBe(200);
    // Requests without credentials from the throttled address are answered as before (401, not 429).
    expect((await throttled.inject({ method: 'GET', url: '/clusters', remoteAddress: attacker })).statusCode).toBe(401);
  });

  it('counts invalid credentials sent with a malformed URL', async () => {
    const address = '192.0.2.99';
    for (let i = 0; i < 5; i++) {
      const refused = await throttled.inject({ method: 'GET', url: '/clusters/%zz', headers: { authorization: 'Bearer skd_notakey' }, remoteAddress: address });
      expect((refused.json() as Problem).code).toBe('invalid_token');
    }
    expectRateLimited(await throttled.inject({ method: 'GET', url: '/me', headers: { authorization: 'Bearer skd_notakey' }, remoteAddress: address }), /Too many/);
  });

  it('throttles the registry realm after invalid Basic credentials from one address', async () => {
    const address = '192.0.2.77';
    const basic = `Basic ${Buffer.from('x:skd_notAValidKeyAtAll').toString('base64')}`;
    for (let i = 0; i < 5; i++) {
      const refused = await throttled.inject({ method: 'GET', url: '/registry/token?service=registry.example.com', headers: { authorization: basic }, remoteAddress: address });
      expect(refused.statusCode).toBe(401);
    }
    const realm = await throttled.inject({ method: 'GET', url: '/registry/token?service=registry.example.com', headers: { authorization: basic }, remoteAddress: address });
    expectRateLimited(realm, /Too many invalid credentials/);
    const api = await throttled.inject({ method: 'GET', url: '/me', headers: { authorization: 'Bearer skd_anything' }, remoteAddress: address });
    expectRateLimited(api, /Too many invalid credentials/);
  });
});
