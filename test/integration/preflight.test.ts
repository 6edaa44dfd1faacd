import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloud, createCluster } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { sendRoute } from '../helpers/route-requests.js';
import {
  EXPECTED_ROUTES,
  expectedForKey,
  fillPath,
  KEY_SCOPE_SETS,
  MISSING_IDS,
  routeKey,
  scopeNeeded,
  type ExpectedRoute,
  type Ids,
} from './expected-routes.js';

/**
 * GET /me/check (CONTRACT §7): the pre-flight of a request for the calling credential. Its answers are
 * checked against the seed's table (expected-routes.ts), and every refusal it predicts against the real
 * request's own answer, for every route and every scope combination. Refused requests change nothing, so
 * they are sent for real; allowed ones are only predicted (a real DELETE would delete).
 */

interface Preflight {
  allowed: boolean;
  required_scope: string | null;
  refused_by: string | null;
  route: string;
  detail: string | null;
}

describe(`pre-flight (${TEST_DIALECT})`, () => {
  let h: Harness;
  let a: Account;
  let ids: Ids;

  const check = async (headers: Record<string, string>, method: string, path: string, remoteAddress?: string) => {
    const response = await h.inject({
      method: 'GET',
      url: `/me/check?method=${method}&path=${encodeURIComponent(path)}`,
      headers,
      ...(remoteAddress ? { remoteAddress } : {}),
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Preflight;
  };


  const send = (route: ExpectedRoute, headers: Record<string, string>, remoteAddress?: string) => sendRoute(h, route, ids, headers, remoteAddress);

  beforeAll(async () => {
    h = await startHarness();
    a = await h.newAccount();
    const cloud = await createCloud(h, a, 'pf-cloud');
    const { clusterId } = await createCluster(h, a, { cloudId: cloud, name: 'pf-cluster', wait: false });
    ids = { ...MISSING_IDS, cloud, cluster: clusterId };
  });
  afterAll(async () => h?.close());

  const routes = EXPECTED_ROUTES.filter((route) => route.path !== '/me/check');

  for (const set of KEY_SCOPE_SETS) {
    it(`${set.name}: every route's pre-flight is the seed's answer, and each predicted refusal is the real one`, async () => {
      const key = await h.createKey(a, set.scopes);
      for (const route of routes) {
        const context = `${set.name}: ${routeKey(route.method, route.path)}`;
        const predicted = await check(bearer(key.key), route.method, fillPath(route.path, ids));
        const expected = route.auth === 'public' ? { allowed: true as const } : expectedForKey(route.auth, set.scopes);
        expect(predicted.allowed, context).toBe(expected.allowed);
        expect(predicted.route, context).toBe(`${route.method} ${route.path}`);
        expect(predicted.required_scope, context).toBe(scopeNeeded(route.auth));
        if (expected.allowed) {
          expect(predicted.refused_by, context).toBeNull();
          continue;
        }
        expect(predicted.refused_by, context).toBe(expected.code === 'insufficient_scope' ? 'scope' : expected.code);
        const real = await send(route, bearer(key.key));
        expect(real.statusCode, context).toBe(403);
        const problem = real.json() as Problem;
        expect(problem.code, context).toBe(expected.code);
        expect(predicted.detail, context).toBe(problem.detail);
      }
    });
  }

  it('a user session is allowed everywhere, user-only routes included', async () => {
    for (const route of routes) {
      const predicted = await check(a.auth, route.method, fillPath(route.path, ids));
      expect(predicted, routeKey(route.method, route.path)).toMatchObject({ allowed: true, refused_by: null });
    }
  });

  it('a key used from outside its allowed_ips is told so (the check itself answers), and the real request is refused alike', async () => {
    const key = await h.createKey(a, ['full'], { allowed_ips: ['10.0.0.0/8'] });
    const route = EXPECTED_ROUTES.find((candidate) => candidate.method === 'GET' && candidate.path === '/clusters') as ExpectedRoute;
    const predicted = await check(bearer(key.key), 'GET', '/clusters', '192.0.2.7');
    expect(predicted).toMatchObject({ allowed: false, refused_by: 'ip_not_allowed' });
    const real = await send(route, bearer(key.key), '192.0.2.7');
    expect(real.statusCode).toBe(403);
    expect((real.json() as Problem).code).toBe('ip_not_allowed');
    expect(predicted.detail).toBe((real.json() as Problem).detail);
    expect(await check(bearer(key.key), 'GET', '/clusters', '10.1.2.3')).toMatchObject({ allowed: true, refused_by: null });
  });

  it('a key limited to some resources: outside ids and account-wide writes are resource_not_allowed, inside ids allowed', async () => {
    const key = await h.createKey(a, ['full'], { resources: { clusters: [ids.cluster] } });
    expect(await check(bearer(key.key), 'GET', `/clusters/${ids.cluster}/node-pools`)).toMatchObject({ allowed: true });
    expect(await check(bearer(key.key), 'POST', `/clusters/${MISSING_IDS.cluster}/node-pools`)).toMatchObject({ allowed: false, refused_by: 'resource_not_allowed' });
    expect(await check(bearer(key.key), 'POST', '/clusters')).toMatchObject({ allowed: false, refused_by: 'resource_not_allowed' });
    const realCreate = await h.inject({ method: 'POST', url: '/clusters', headers: bearer(key.key), payload: { name: 'nope', cloud_id: ids.cloud } });
    expect((realCreate.json() as Problem).code).toBe('resource_not_allowed');
    const realOutside = await h.inject({ method: 'GET', url: `/clusters/${MISSING_IDS.cluster}`, headers: bearer(key.key) });
    expect(realOutside.statusCode).toBe(404);
  });

  it('has no side effect: last_used_at aside, nothing is written', async () => {
    const key = await h.createKey(a, ['clusters:read']);
    const clusters = async () => JSON.stringify(await h.deps.database.db.selectFrom('clusters').selectAll().execute());
    const before = await clusters();
    await check(bearer(key.key), 'DELETE', `/clusters/${ids.cluster}`);
    await check(bearer(key.key), 'POST', '/clusters');
    expect(await clusters()).toBe(before);
  });

  it.each([
    ['GET', '/no-such-thing'],
    ['GET', '/clusters/x/y/z'],
    ['PUT', '/clusters'],
  ])('%s %s: no such route → 404', async (method, path) => {
    const response = await h.inject({ method: 'GET', url: `/me/check?method=${method}&path=${encodeURIComponent(path)}`, headers: a.auth });
    expect(response.statusCode).toBe(404);
    expect((response.json() as Problem).code).toBe('not_found');
  });

  it.each([
    ['no method', 'path=/clusters'],
    ['an unknown method', 'method=TRACE&path=/clusters'],
    ['a path without a leading slash', 'method=GET&path=clusters'],
    ['a path with a control character', 'method=GET&path=%2Fclusters%00'],
  ])('%s → 400', async (_name, query) => {
    const response = await h.inject({ method: 'GET', url: `/me/check?${query}`, headers: a.auth });
    expect(response.statusCode, response.body).toBe(400);
    expect((response.json() as Problem).code).toBe('validation_failed');
  });
});
