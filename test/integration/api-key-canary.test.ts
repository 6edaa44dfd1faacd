import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/auth/api-key-format.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import { EXPECTED_ROUTES, MISSING_IDS, routeKey, routeUrl, validBody, type ExpectedRoute } from './expected-routes.js';

/**
 * Canary keys (CONTRACT §7, issue 13 item 3): a key created with `canary: true` is answered exactly like an
 * unknown well-formed key on every route (status, headers, body but for the request id), belongs to no
 * caller (no key activity), counts toward AUTH_FAILURE_LIMIT like one, and raises `api_key.canary_used`
 * with the address, user agent, method and route, at most once per key, address and minute.
 */

interface EventBody {
  id: string;
  type: string;
  actor: { type: string; id: string | null; client_ip: string | null; user_agent: string | null };
  subject: { type: string; id: string };
  data: Record<string, unknown>;
}

/** What an outsider sees of an answer, with the one thing that differs per request (its id) blanked. */
function visible(response: LightMyRequestResponse): { status: number; headers: Record<string, unknown>; body: string } {
  const headers: Record<string, unknown> = { ...response.headers };
  delete headers.date;
  const requestId = typeof headers['x-request-id'] === 'string' ? headers['x-request-id'] : null;
  if (requestId !== null) headers['x-request-id'] = '<id>';
  let body = response.body.replace(/"request_id":"req_[0-9A-Za-z]+"/g, '"request_id":"<id>"');
  if (requestId !== null) body = body.split(requestId).join('<id>');
  return { status: response.statusCode, headers, body };
}

const ALL_ROUTES = EXPECTED_ROUTES.map((route) => [routeKey(route.method, route.path), route] as const);

describe(`canary keys (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;
  let throttled: Harness;
  let owner: Account;
  let canary: { id: string; key: string };

  beforeAll(async () => {
    h = await startHarness({ clock });
    throttled = await startHarness({ env: { AUTH_FAILURE_LIMIT: '4/60' } });
    owner = await h.newAccount();
    canary = await h.createKey(owner, ['full'], { canary: true });
  });
  afterAll(async () => {
    await h?.close();
    await throttled?.close();
  });

  async function canaryEvents(harness: Harness, account: Account, keyId: string): Promise<EventBody[]> {
    await harness.app.canaries.flush();
    const response = await harness.inject({ method: 'GET', url: `/events?type=api_key.canary_used&api_key_id=${keyId}&limit=200`, headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as { data: EventBody[] }).data;
  }

  function send(route: ExpectedRoute, authorization: string, extra: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const body = validBody(route, MISSING_IDS);
    return h.inject({
      method: route.method,
      url: routeUrl(route, MISSING_IDS),
      headers: { authorization, 'user-agent': 'canary-test/1', ...extra, ...body?.headers },
      ...(body === undefined ? {} : { payload: body.payload }),
    });
  }

  it('is shown as a canary, and created only at creation: PATCH cannot set it', async () => {
    const view = await h.inject({ method: 'GET', url: `/api-keys/${canary.id}`, headers: owner.auth });
    expect(view.json()).toMatchObject({ id: canary.id, canary: true, last_used_at: null });
    const plain = await h.createKey(owner, ['clusters:read']);
    expect((await h.inject({ method: 'GET', url: `/api-keys/${plain.id}`, headers: owner.auth })).json()).toMatchObject({ canary: false });
    for (const value of [true, false]) {
      const patched = await h.inject({ method: 'PATCH', url: `/api-keys/${plain.id}`, headers: owner.auth, payload: { canary: value } });
      expect(patched.statusCode, patched.body).toBe(400);
      expect(patched.json()).toMatchObject({ code: 'validation_failed' });
    }
    const bad = await h.inject({ method: 'POST', url: '/api-keys', headers: owner.auth, payload: { name: 'c', canary: 'yes' } });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json())).toContain('canary');
  });

  it.each(ALL_ROUTES)('%s: a canary is answered exactly like an unknown well-formed key, first use and cached', async (_name, route) => {
    const unknown = generateApiKey();
    // First use (the database is read for both, or the digest filter turns the unknown one away), then cached.
    for (let round = 0; round < 2; round++) {
      const forUnknown = visible(await send(route, `Bearer ${unknown}`));
      const forCanary = visible(await send(route, `Bearer ${canary.key}`));
      expect(forCanary).toEqual(forUnknown);
      if (route.auth !== 'public') expect(forCanary.status).toBe(401);
    }
  });

  it('the registry token realm (Basic auth), a malformed URL and an unknown path answer a canary like an unknown key', async () => {
    const unknown = generateApiKey();
    const basic = (key: string) => `Basic ${Buffer.from(`docker:${key}`).toString('base64')}`;
    const requests = [
      (key: string) => ({ method: 'GET' as const, url: '/registry/token?service=registry.skaledata.local&scope=repository:x/y:pull', headers: { authorization: basic(key) } }),
      (key: string) => ({ method: 'GET' as const, url: '/clusters/%zz', headers: bearer(key) }),
      (key: string) => ({ method: 'GET' as const, url: '/no-such-route?x=1', headers: bearer(key) }),
    ];
    for (const request of requests) {
      for (let round = 0; round < 2; round++) {
        const forUnknown = visible(await h.inject(request(unknown)));
        const forCanary = visible(await h.inject(request(canary.key)));
        expect(forCanary).toEqual(forUnknown);
      }
    }
    const realm = await h.inject(requests[0]!(canary.key));
    expect(realm.statusCode).toBe(401);
    expect(realm.json()).toMatchObject({ code: 'invalid_token' });
  });

  it('raises api_key.canary_used with address, user agent, method and route (template), once per key, address and minute', async () => {
    const account = await h.newAccount();
    const key = await h.createKey(account, ['clusters:read'], { canary: true });
    const as = (remoteAddress: string, url: string, agent = 'curl/8.5.0') =>
      h.inject({ method: 'GET', url, headers: { ...bearer(key.key), 'user-agent': agent }, remoteAddress });
    for (let i = 0; i < 5; i++) expect((await as('203.0.113.7', '/clusters/cls_nothere?verbose=1')).statusCode).toBe(401);
    let events = await canaryEvents(h, account, key.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'api_key.canary_used',
      actor: { type: 'system', id: 'canary', client_ip: '203.0.113.7', user_agent: 'curl/8.5.0' },
      subject: { type: 'api_key', id: key.id },
      data: { client_ip: '203.0.113.7', user_agent: 'curl/8.5.0', method: 'GET', route: '/clusters/{id}' },
    });
    // Another address: its own event; a URL no route matches (malformed): the path without its query.
    expect((await as('198.51.100.2', '/clusters/%zz?token=x', 'python-requests/2.31')).statusCode).toBe(401);
    events = await canaryEvents(h, account, key.id);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ data: { client_ip: '198.51.100.2', user_agent: 'python-requests/2.31', method: 'GET', route: '/clusters/%zz' } });
    // A path that is no route at all is answered 404 before any credential is looked at: nothing to report.
    expect((await as('198.51.100.3', '/nowhere/at/all')).statusCode).toBe(404);
    expect(await canaryEvents(h, account, key.id)).toHaveLength(2);
    // The next minute: the same address raises it again.
    clock.advance(60_000);
    expect((await as('203.0.113.7', '/me')).statusCode).toBe(401);
    events = await canaryEvents(h, account, key.id);
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({ data: { client_ip: '203.0.113.7', route: '/me' } });
    // The registry token realm (Basic auth, its own authentication) raises it too.
    const basic = `Basic ${Buffer.from(`docker:${key.key}`).toString('base64')}`;
    const realm = await h.inject({ method: 'GET', url: '/registry/token?service=registry.skaledata.local', headers: { authorization: basic, 'user-agent': 'docker/27.0' }, remoteAddress: '192.0.2.44' });
    expect(realm.statusCode).toBe(401);
    events = await canaryEvents(h, account, key.id);
    expect(events).toHaveLength(4);
    expect(events[0]).toMatchObject({ data: { client_ip: '192.0.2.44', user_agent: 'docker/27.0', method: 'GET', route: '/registry/token' } });
    // Never a secret in an event.
    expect(JSON.stringify(events)).not.toContain(key.key.slice(4));
  });

  it('belongs to no caller: no key activity, no last use; a revoked canary is refused and raises nothing', async () => {
    const account = await h.newAccount();
    const key = await h.createKey(account, ['full'], { canary: true });
    expect((await h.inject({ method: 'GET', url: '/me', headers: bearer(key.key) })).statusCode).toBe(401);
    expect((await h.inject({ method: 'POST', url: '/clusters', headers: bearer(key.key), payload: {} })).statusCode).toBe(401);
    await h.app.keyActivity.flush();
    const activity = await h.inject({ method: 'GET', url: `/api-keys/${key.id}/activity`, headers: account.auth });
    expect(activity.statusCode, activity.body).toBe(200);
    expect((activity.json() as { data: unknown[] }).data).toEqual([]);
    expect((await h.inject({ method: 'GET', url: `/api-keys/${key.id}`, headers: account.auth })).json()).toMatchObject({ last_used_at: null });
    expect(await canaryEvents(h, account, key.id)).toHaveLength(1);

    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: account.auth })).statusCode).toBe(204);
    const after = await h.inject({ method: 'GET', url: '/me', headers: { ...bearer(key.key) }, remoteAddress: '192.0.2.99' });
    expect(after.statusCode).toBe(401);
    expect(await canaryEvents(h, account, key.id)).toHaveLength(1);
  });

  it('counts toward AUTH_FAILURE_LIMIT exactly like an unknown key', async () => {
    const account = await throttled.newAccount();
    const key = await throttled.createKey(account, ['full'], { canary: true });
    const unknown = generateApiKey();
    const statuses = async (credential: string, remoteAddress: string) => {
      const seen: number[] = [];
      for (let i = 0; i < 6; i++) seen.push((await throttled.inject({ method: 'GET', url: '/me', headers: bearer(credential), remoteAddress })).statusCode);
      return seen;
    };
    const forUnknown = await statuses(unknown, '198.51.100.10');
    const forCanary = await statuses(key.key, '198.51.100.11');
    expect(forUnknown).toEqual([401, 401, 401, 401, 429, 429]);
    expect(forCanary).toEqual(forUnknown);
    expect(await canaryEvents(throttled, account, key.id)).toHaveLength(1);
  });
});
