import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import type { Problem } from '../helpers/problem.js';
import { createRunningApp, type AppFixture } from '../helpers/tokens-fixtures.js';

/**
 * `scope_expires_at` (CONTRACT §7): a scope that lapses before its key. After the instant, the scope's
 * routes refuse the key with the seed's own 403 (`API key missing required scope: <scope>`), while its
 * other scopes keep working; the lapse is checked against the clock on every request, cached key or not.
 */

const HOUR = 3600_000;
const inOneHour = (clock: MovableClock) => new Date(clock.now().getTime() + HOUR).toISOString();

describe(`scopes that lapse before the key (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;
  let a: Account;

  const create = (payload: Record<string, unknown>) => h.inject({ method: 'POST', url: '/api-keys', headers: a.auth, payload: { name: 'lapsing', ...payload } });
  const errorPaths = (response: LightMyRequestResponse) => ((response.json() as Problem & { errors?: Array<{ path: string }> }).errors ?? []).map((error) => error.path);

  beforeAll(async () => {
    h = await startHarness({ clock });
    a = await h.newAccount();
  });
  afterAll(async () => h?.close());

  it('the lapsed scope gets the seed refusal word for word; the others keep working; the key object shows the instant', async () => {
    const at = inOneHour(clock);
    const created = await create({ scopes: ['clusters:read', 'apps:read'], scope_expires_at: { 'clusters:read': at } });
    expect(created.statusCode, created.body).toBe(201);
    const key = created.json() as { id: string; key: string; scope_expires_at: Record<string, string> };
    expect(key.scope_expires_at).toEqual({ 'clusters:read': at });

    expect((await h.inject({ method: 'GET', url: '/clusters', headers: bearer(key.key) })).statusCode).toBe(200);
    clock.advance(HOUR + 1000);
    const lapsed = await h.inject({ method: 'GET', url: '/clusters', headers: bearer(key.key) });
    expect(lapsed.statusCode).toBe(403);
    const problem = lapsed.json() as Problem;
    expect(problem.code).toBe('insufficient_scope');
    expect(problem.detail).toBe('API key missing required scope: clusters:read');
    expect(lapsed.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="insufficient_scope", scope="clusters:read"');
    expect((await h.inject({ method: 'GET', url: '/apps', headers: bearer(key.key) })).statusCode).toBe(200);
    // GET /me names the scopes held now.
    expect(((await h.inject({ method: 'GET', url: '/me', headers: bearer(key.key) })).json() as { api_key: { scopes: string[] } }).api_key.scopes).toEqual(['apps:read']);
    // The pre-flight agrees with the real request.
    const check = await h.inject({ method: 'GET', url: '/me/check?method=GET&path=/clusters', headers: bearer(key.key) });
    expect(check.json()).toMatchObject({ allowed: false, refused_by: 'scope', required_scope: 'clusters:read', detail: 'API key missing required scope: clusters:read' });
  });

  it('a full key whose full lapses keeps only what needs no scope', async () => {
    const created = await create({ scope_expires_at: { full: inOneHour(clock) } });
    expect(created.statusCode, created.body).toBe(201);
    const key = created.json() as { key: string };
    expect((await h.inject({ method: 'GET', url: '/clusters', headers: bearer(key.key) })).statusCode).toBe(200);
    clock.advance(HOUR + 1000);
    const refused = await h.inject({ method: 'GET', url: '/clusters', headers: bearer(key.key) });
    expect((refused.json() as Problem).detail).toBe('API key missing required scope: clusters:read');
    expect((await h.inject({ method: 'GET', url: '/api-keys', headers: bearer(key.key) })).json()).toMatchObject({ detail: 'API key missing required scope: full' });
    expect((await h.inject({ method: 'GET', url: '/me', headers: bearer(key.key) })).statusCode).toBe(200);
  });

  it('PATCH sets, moves and removes a lapse; narrowing the scopes drops the lapses of scopes no longer held', async () => {
    const created = (await create({ scopes: ['clusters:read', 'jobs:read'] })).json() as { id: string; key: string };
    const patch = (payload: Record<string, unknown>) => h.inject({ method: 'PATCH', url: `/api-keys/${created.id}`, headers: a.auth, payload });
    const set = await patch({ scope_expires_at: { 'jobs:read': inOneHour(clock), 'clusters:read': inOneHour(clock) } });
    expect(set.statusCode, set.body).toBe(200);
    const narrowed = await patch({ scopes: ['clusters:read'] });
    expect(Object.keys((narrowed.json() as { scope_expires_at: Record<string, string> }).scope_expires_at)).toEqual(['clusters:read']);
    const removed = await patch({ scope_expires_at: null });
    expect((removed.json() as { scope_expires_at: unknown }).scope_expires_at).toBeNull();
    clock.advance(2 * HOUR);
    expect((await h.inject({ method: 'GET', url: '/clusters', headers: bearer(created.key) })).statusCode).toBe(200);
  });

  describe('a lapsed scope never comes back through PATCH', () => {
    const lapsedKey = async (payload: Record<string, unknown>) => {
      const created = await create(payload);
      expect(created.statusCode, created.body).toBe(201);
      const key = created.json() as { id: string; key: string };
      clock.advance(HOUR + 1000);
      return key;
    };
    const patch = (id: string, payload: Record<string, unknown>) => h.inject({ method: 'PATCH', url: `/api-keys/${id}`, headers: a.auth, payload });
    const clustersWith = (key: string) => h.inject({ method: 'GET', url: '/clusters', headers: bearer(key) });

    it('removing the lapses (null) does not revive it', async () => {
      const key = await lapsedKey({ scopes: ['clusters:read', 'apps:read'], scope_expires_at: { 'clusters:read': inOneHour(clock) } });
      const patched = await patch(key.id, { scope_expires_at: null });
      expect(patched.statusCode, patched.body).toBe(200);
      expect((patched.json() as { scopes: string[] }).scopes).toEqual(['apps:read']);
      expect((await clustersWith(key.key)).statusCode).toBe(403);
    });

    it('setting a lapse on another scope does not revive it', async () => {
      const key = await lapsedKey({ scopes: ['clusters:read', 'apps:read'], scope_expires_at: { 'clusters:read': inOneHour(clock) } });
      expect((await patch(key.id, { scope_expires_at: { 'apps:read': inOneHour(clock) } })).statusCode).toBe(200);
      expect((await clustersWith(key.key)).statusCode).toBe(403);
    });

    it('a full key whose full lapsed cannot be "narrowed" to other scopes', async () => {
      const key = await lapsedKey({ scope_expires_at: { full: inOneHour(clock) } });
      const patched = await patch(key.id, { scopes: ['clusters:read'] });
      expect(patched.statusCode, patched.body).toBe(400);
      expect(errorPaths(patched)).toContain('scopes');
      expect((await clustersWith(key.key)).statusCode).toBe(403);
    });

    it('a lapsed scope cannot be given a new lapse either', async () => {
      const key = await lapsedKey({ scopes: ['clusters:read', 'apps:read'], scope_expires_at: { 'clusters:read': inOneHour(clock) } });
      const patched = await patch(key.id, { scope_expires_at: { 'clusters:read': inOneHour(clock) } });
      expect(patched.statusCode).toBe(400);
      expect((await clustersWith(key.key)).statusCode).toBe(403);
    });
  });

  it.each([
    ['an unknown scope', () => ({ scopes: ['clusters:read'], scope_expires_at: { 'clusters:admin': inOneHour(clock) } }), 'scope_expires_at'],
    ['a scope the key does not hold', () => ({ scopes: ['clusters:read'], scope_expires_at: { 'jobs:read': inOneHour(clock) } }), 'scope_expires_at.jobs:read'],
    ['a scope other than full on a full key', () => ({ scope_expires_at: { 'terminal:exec': inOneHour(clock) } }), 'scope_expires_at.terminal:exec'],
    ['a timestamp in the past', () => ({ scopes: ['clusters:read'], scope_expires_at: { 'clusters:read': new Date(clock.now().getTime() - 1000).toISOString() } }), 'scope_expires_at.clusters:read'],
    ['a lapse after the key expires', () => ({ scopes: ['clusters:read'], expires_at: inOneHour(clock), scope_expires_at: { 'clusters:read': new Date(clock.now().getTime() + 2 * HOUR).toISOString() } }), 'scope_expires_at.clusters:read'],
    ['not a timestamp', () => ({ scopes: ['clusters:read'], scope_expires_at: { 'clusters:read': 'tomorrow' } }), 'scope_expires_at'],
    ['an empty object', () => ({ scopes: ['clusters:read'], scope_expires_at: {} }), 'scope_expires_at'],
  ])('%s → 400 validation_failed naming the field, nothing stored', async (_name, payload, path) => {
    const before = ((await h.inject({ method: 'GET', url: '/api-keys?limit=100', headers: a.auth })).json() as { data: unknown[] }).data.length;
    const response = await create(payload());
    expect(response.statusCode, response.body).toBe(400);
    expect((response.json() as Problem).code).toBe('validation_failed');
    expect(errorPaths(response).some((found) => found.startsWith(path)), response.body).toBe(true);
    expect(((await h.inject({ method: 'GET', url: '/api-keys?limit=100', headers: a.auth })).json() as { data: unknown[] }).data.length).toBe(before);
  });
});

describe(`credentials handed out never outlive the scope that allowed them (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;
  let a: Account;
  let app: AppFixture;

  beforeAll(async () => {
    h = await startHarness({ clock, runJobs: true });
    a = await h.newAccount();
    app = await createRunningApp(h, a);
  }, 60_000);
  afterAll(async () => h?.close());

  it('registry tokens and dev credentials of a key whose apps:deploy lapses in 100 s live at most 100 s; without a lapse, their full time', async () => {
    const lapse = new Date(clock.now().getTime() + 100_000).toISOString();
    const lapsing = await h.createKey(a, ['apps:deploy'], { scope_expires_at: { 'apps:deploy': lapse } });
    const lasting = await h.createKey(a, ['apps:deploy']);
    const token = async (key: string) => {
      const response = await h.inject({ method: 'POST', url: `/apps/${app.appId}/registry-token`, headers: bearer(key), payload: {} });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as { expires_in: number; expires_at: string };
    };
    const short = await token(lapsing.key);
    expect(short.expires_in).toBeGreaterThan(95);
    expect(short.expires_in).toBeLessThanOrEqual(100);
    expect(Date.parse(short.expires_at)).toBeLessThanOrEqual(Date.parse(lapse));
    expect((await token(lasting.key)).expires_in).toBe(900);

    const dev = await h.inject({ method: 'POST', url: `/apps/${app.appId}/dev-credentials`, headers: bearer(lapsing.key), payload: {} });
    expect(dev.statusCode, dev.body).toBe(201);
    expect(Date.parse((dev.json() as { expires_at: string }).expires_at)).toBeLessThanOrEqual(Date.parse(lapse));
  });
});
