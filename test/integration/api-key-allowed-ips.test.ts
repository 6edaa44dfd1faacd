import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/**
 * `allowed_ips` on an API key (CONTRACT §7, issue 12): from elsewhere a valid key gets 403 ip_not_allowed,
 * decided after the credential and before the scope; a change reaches the key cache at once. The client
 * address is the socket's, or the left-most untrusted X-Forwarded-For hop behind TRUST_PROXY.
 */

interface KeyBody {
  id: string;
  key: string;
  allowed_ips: string[] | null;
}

const as = (key: string, remoteAddress: string, extra: Record<string, string> = {}) => ({ headers: { authorization: `Bearer ${key}`, ...extra }, remoteAddress });

describe(`API keys fenced by allowed_ips (${TEST_DIALECT})`, () => {
  let h: Harness;
  let proxied: Harness;
  let a: Account;

  const create = async (harness: Harness, account: Account, payload: Record<string, unknown>) => {
    const response = await harness.inject({ method: 'POST', url: '/api-keys', headers: account.auth, payload: { name: 'fenced', ...payload } });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as KeyBody;
  };
  const get = (harness: Harness, url: string, request: { headers: Record<string, string>; remoteAddress: string }) =>
    harness.inject({ method: 'GET', url, headers: request.headers, remoteAddress: request.remoteAddress });
  const refusedHere = (response: { statusCode: number; json: () => unknown; headers: Record<string, unknown> }) => {
    expect(response.statusCode).toBe(403);
    const body = response.json() as Problem;
    expect(body.code).toBe('ip_not_allowed');
    expect(response.headers['www-authenticate']).toBeUndefined();
  };

  beforeAll(async () => {
    h = await startHarness();
    proxied = await startHarness({ env: { TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' } });
    a = await h.newAccount();
  });
  afterAll(async () => {
    await h?.close();
    await proxied?.close();
  });

  it('accepts the key from an allowed address, IPv4 or IPv6, and refuses it elsewhere with 403 ip_not_allowed', async () => {
    const key = await create(h, a, { scopes: ['clusters:read'], allowed_ips: ['203.0.113.0/24', '2001:db8::/32', '198.51.100.7'] });
    expect(key.allowed_ips).toEqual(['203.0.113.0/24', '2001:db8::/32', '198.51.100.7/32']);
    for (const address of ['203.0.113.9', '2001:db8::42', '198.51.100.7', '::ffff:203.0.113.77']) {
      expect((await get(h, '/clusters', as(key.key, address))).statusCode, address).toBe(200);
    }
    for (const address of ['203.0.114.1', '2001:db9::1', '198.51.100.8', '127.0.0.1']) refusedHere(await get(h, '/clusters', as(key.key, address)));
  });

  it('decides the address before the scope, and never changes the seed refusal from an allowed address', async () => {
    const key = await create(h, a, { scopes: ['clusters:read'], allowed_ips: ['203.0.113.0/24'] });
    refusedHere(await get(h, '/jobs', as(key.key, '192.0.2.1')));
    const fromHere = await get(h, '/jobs', as(key.key, '203.0.113.1'));
    expect(fromHere.statusCode).toBe(403);
    expect((fromHere.json() as Problem).detail).toBe('API key missing required scope: jobs:read');
    // Credentials still come first: a revoked fenced key is 401 from anywhere.
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: a.auth })).statusCode).toBe(204);
    expect((await get(h, '/clusters', as(key.key, '192.0.2.1'))).statusCode).toBe(401);
  });

  it('PATCH changes or clears the list, effective on the next request; user sessions are never fenced', async () => {
    const key = await create(h, a, { scopes: ['clusters:read'] });
    expect(key.allowed_ips).toBeNull();
    expect((await get(h, '/clusters', as(key.key, '192.0.2.1'))).statusCode).toBe(200);
    const fenced = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { allowed_ips: ['203.0.113.5'] } });
    expect(fenced.json()).toMatchObject({ allowed_ips: ['203.0.113.5/32'] });
    refusedHere(await get(h, '/clusters', as(key.key, '192.0.2.1')));
    const cleared = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { allowed_ips: null } });
    expect(cleared.json()).toMatchObject({ allowed_ips: null });
    expect((await get(h, '/clusters', as(key.key, '192.0.2.1'))).statusCode).toBe(200);
    expect((await get(h, '/clusters', { headers: a.auth, remoteAddress: '192.0.2.1' })).statusCode).toBe(200);
  });

  it('the registry realm refuses a fenced key from elsewhere too', async () => {
    const key = await create(h, a, { scopes: ['apps:deploy'], allowed_ips: ['203.0.113.0/24'] });
    const basic = { authorization: `Basic ${Buffer.from(`ci:${key.key}`).toString('base64')}` };
    const url = '/registry/token?service=registry.skaledata.local';
    expect((await get(h, url, { headers: basic, remoteAddress: '203.0.113.3' })).statusCode).toBe(200);
    refusedHere(await get(h, url, { headers: basic, remoteAddress: '192.0.2.3' }));
  });

  it.each([
    ['a hostname', ['example.com']],
    ['a bad prefix', ['10.0.0.0/33']],
    ['an empty list', []],
    ['51 entries', Array.from({ length: 51 }, (_, i) => `10.0.${i}.0/24`)],
    ['a non-string', [7]],
  ])('%s → 400 validation_failed naming allowed_ips, at creation and in PATCH', async (_name, allowed) => {
    const created = await h.inject({ method: 'POST', url: '/api-keys', headers: a.auth, payload: { name: 'x', allowed_ips: allowed } });
    expect(created.statusCode).toBe(400);
    expect(JSON.stringify((created.json() as { errors: unknown }).errors)).toContain('allowed_ips');
    const key = await create(h, a, { scopes: ['clusters:read'] });
    const patched = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { allowed_ips: allowed } });
    expect(patched.statusCode).toBe(400);
    expect(((await h.inject({ method: 'GET', url: `/api-keys/${key.id}`, headers: a.auth })).json() as KeyBody).allowed_ips).toBeNull();
  });

  it('behind TRUST_PROXY the client is the left-most untrusted X-Forwarded-For hop; without it the header is ignored', async () => {
    const b = await proxied.newAccount();
    const key = await create(proxied, b, { scopes: ['clusters:read'], allowed_ips: ['203.0.113.0/24'] });
    // Through a trusted proxy: the forwarded client counts, and trusted hops in between are skipped.
    expect((await get(proxied, '/clusters', as(key.key, '10.1.2.3', { 'x-forwarded-for': '203.0.113.8' }))).statusCode).toBe(200);
    expect((await get(proxied, '/clusters', as(key.key, '127.0.0.1', { 'x-forwarded-for': '203.0.113.8, 10.9.9.9' }))).statusCode).toBe(200);
    refusedHere(await get(proxied, '/clusters', as(key.key, '10.1.2.3', { 'x-forwarded-for': '192.0.2.50' })));
    // A spoofed left-most entry does not help: the right-most untrusted hop is who connected to the proxy.
    refusedHere(await get(proxied, '/clusters', as(key.key, '10.1.2.3', { 'x-forwarded-for': '203.0.113.8, 192.0.2.50' })));
    // From an untrusted peer, the header is ignored.
    refusedHere(await get(proxied, '/clusters', as(key.key, '192.0.2.9', { 'x-forwarded-for': '203.0.113.8' })));

    const direct = await create(h, a, { scopes: ['clusters:read'], allowed_ips: ['203.0.113.0/24'] });
    refusedHere(await get(h, '/clusters', as(direct.key, '10.1.2.3', { 'x-forwarded-for': '203.0.113.8' })));
  });
});
