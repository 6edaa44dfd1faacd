import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/**
 * PATCH /api-keys/{id} (CONTRACT §7, issue 12): rename a key or narrow its scopes. A narrowed scope is
 * refused with the seed's exact message from the very next request; a key never gains a scope.
 */

interface KeyBody {
  id: string;
  name: string;
  scopes: string[];
  revoked_at: string | null;
}

describe(`PATCH /api-keys/{id} (${TEST_DIALECT})`, () => {
  let h: Harness;
  let a: Account;
  let b: Account;

  const patch = (id: string, headers: Record<string, string>, payload: unknown) =>
    h.inject({ method: 'PATCH', url: `/api-keys/${id}`, headers, payload: payload as Record<string, unknown> });
  const problem = (response: { statusCode: number; json: () => unknown }, status: number, code: string) => {
    expect(response.statusCode).toBe(status);
    const body = response.json() as Problem & { errors?: Array<{ path: string; message: string }> };
    expect(body.code).toBe(code);
    return body;
  };

  beforeAll(async () => {
    h = await startHarness();
    [a, b] = await Promise.all([h.newAccount(), h.newAccount()]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('renames a key and narrows its scopes; the narrowed scope is refused on the very next request, with the seed message', async () => {
    const key = await h.createKey(a, ['clusters:read', 'jobs:read']);
    expect((await h.inject({ method: 'GET', url: '/jobs', headers: bearer(key.key) })).statusCode).toBe(200);

    const response = await patch(key.id, a.auth, { name: '  dashboards  ', scopes: ['clusters:read', 'clusters:read'] });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ id: key.id, name: 'dashboards', scopes: ['clusters:read'], revoked_at: null });

    const refused = problem(await h.inject({ method: 'GET', url: '/jobs', headers: bearer(key.key) }), 403, 'insufficient_scope');
    expect(refused.detail).toBe('API key missing required scope: jobs:read');
    expect((await h.inject({ method: 'GET', url: '/clusters', headers: bearer(key.key) })).statusCode).toBe(200);
    const me = (await h.inject({ method: 'GET', url: '/me', headers: bearer(key.key) })).json() as { api_key: { name: string; scopes: string[] } };
    expect(me.api_key).toMatchObject({ name: 'dashboards', scopes: ['clusters:read'] });
    // A rename alone keeps the scopes.
    expect((await patch(key.id, a.auth, { name: 'renamed' })).json()).toMatchObject({ name: 'renamed', scopes: ['clusters:read'] });
  });

  it('a full key narrows to anything; a list with full on a full key stays full', async () => {
    const key = await h.createKey(a, ['full']);
    expect((await patch(key.id, a.auth, { scopes: ['full', 'apps:read'] })).json()).toMatchObject({ scopes: ['full'] });
    expect((await patch(key.id, a.auth, { scopes: ['apps:deploy', 'clusters:read'] })).json()).toMatchObject({ scopes: ['apps:deploy', 'clusters:read'] });
    problem(await h.inject({ method: 'GET', url: '/api-keys', headers: bearer(key.key) }), 403, 'insufficient_scope');
  });

  it('never widens: a scope the key does not hold, or full, is 400 naming scopes, and the key is unchanged', async () => {
    const key = await h.createKey(a, ['apps:read']);
    for (const scopes of [['apps:read', 'apps:deploy'], ['full'], ['clusters:write']]) {
      const body = problem(await patch(key.id, a.auth, { scopes }), 400, 'validation_failed');
      expect(body.errors?.[0]?.path).toBe('scopes');
      expect(body.detail).toContain('can only be narrowed');
    }
    const stored = (await h.inject({ method: 'GET', url: `/api-keys/${key.id}`, headers: a.auth })).json() as KeyBody;
    expect(stored.scopes).toEqual(['apps:read']);
    problem(await h.inject({ method: 'GET', url: '/apps/app_x/deploy-script', headers: bearer(key.key) }), 403, 'insufficient_scope');
  });

  it('is user-only: any API key, full included, gets 403 user_session_required; another account sees 404', async () => {
    const key = await h.createKey(a, ['clusters:read']);
    const full = await h.createKey(a, ['full']);
    for (const caller of [full, key]) {
      problem(await patch(key.id, bearer(caller.key), { scopes: ['clusters:read'] }), 403, 'user_session_required');
    }
    const foreign = problem(await patch(key.id, b.auth, { name: 'mine now' }), 404, 'not_found');
    const missing = problem(await patch('key_00000000000000000000000000', b.auth, { name: 'x' }), 404, 'not_found');
    expect(foreign.detail.replace(key.id, '<id>')).toBe(missing.detail.replace('key_00000000000000000000000000', '<id>'));
    expect(((await h.inject({ method: 'GET', url: `/api-keys/${key.id}`, headers: a.auth })).json() as KeyBody).name).not.toBe('mine now');
  });

  it.each([
    ['an empty body', {}],
    ['an unknown field', { name: 'x', allowed: true }],
    ['a blank name', { name: '   ' }],
    ['an empty scope list', { scopes: [] }],
    ['an unknown scope', { scopes: ['clusters:destroy'] }],
    ['a non-string scope', { scopes: [7] }],
    ['an over-long name', { name: 'n'.repeat(101) }],
  ])('%s → 400 validation_failed', async (_name, payload) => {
    const key = await h.createKey(a, ['clusters:read']);
    problem(await patch(key.id, a.auth, payload), 400, 'validation_failed');
  });

  it('a revoked key cannot be changed (409) and stays refused', async () => {
    const key = await h.createKey(a, ['clusters:read', 'jobs:read']);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: a.auth })).statusCode).toBe(204);
    problem(await patch(key.id, a.auth, { scopes: ['clusters:read'] }), 409, 'conflict');
    problem(await h.inject({ method: 'GET', url: '/clusters', headers: bearer(key.key) }), 401, 'invalid_token');
  });
});
