import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import type { Problem } from '../helpers/problem.js';
import { EXPECTED_ROUTES, MISSING_IDS, routeKey, routeUrl, validBody, type ExpectedRoute } from './expected-routes.js';

/**
 * The shared negative suite (STYLE §11, CONTRACT §2 steps 1–2): every route that is not public refuses a
 * credential that is not a valid one before anything else, whatever the route, the ids or the body.
 * Driven by the hand-written table (expected-routes.ts), so a new route is covered the moment it is listed.
 * "No credentials at all" is in route-inventory.test.ts.
 */

const REALM = 'Bearer realm="skaledata"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="skaledata", error="invalid_token"';

const GUARDED = EXPECTED_ROUTES.filter((route) => route.auth !== 'public').map((route) => [routeKey(route.method, route.path), route] as const);

/** A copy of `key` (`skd_` + 32 random + 6 checksum) with one character of its random part replaced: the checksum no longer matches. */
function breakChecksum(key: string): string {
  const position = 'skd_'.length + 5;
  const original = key[position] as string;
  const replacement = original === 'A' ? 'B' : 'A';
  return key.slice(0, position) + replacement + key.slice(position + 1);
}

function expectRefused(response: LightMyRequestResponse, code: 'unauthenticated' | 'invalid_token'): void {
  const context = response.body.slice(0, 300);
  expect(response.statusCode, context).toBe(401);
  expect(response.headers['content-type'], context).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body, context).toMatchObject({ status: 401, code });
  expect(response.headers['www-authenticate'], context).toBe(code === 'invalid_token' ? INVALID_TOKEN_CHALLENGE : REALM);
}

describe(`negative suite on every guarded route (${TEST_DIALECT})`, () => {
  // Expiry is decided on the server's clock: moving it expires a key without sleeping.
  const clock = new MovableClock();
  let h: Harness;
  let owner: Account;
  /** Each spoiled credential, and what GET /me answered with it while it was still good. */
  const credentials = { badChecksum: '', revoked: '', expired: '' };
  const beforeSpoiling: Record<keyof typeof credentials, number> = { badChecksum: 0, revoked: 0, expired: 0 };

  const me = (key: string) => h.inject({ method: 'GET', url: '/me', headers: bearer(key) });

  beforeAll(async () => {
    h = await startHarness({ clock });
    owner = await h.newAccount();

    // `full` keys, so nothing but the spoiling could stand between them and any route that accepts keys.
    const good = (await h.createKey(owner, ['full'])).key;
    beforeSpoiling.badChecksum = (await me(good)).statusCode;
    credentials.badChecksum = breakChecksum(good);

    const revoked = await h.createKey(owner, ['full']);
    beforeSpoiling.revoked = (await me(revoked.key)).statusCode;
    const revocation = await h.inject({ method: 'DELETE', url: `/api-keys/${revoked.id}`, headers: owner.auth });
    if (revocation.statusCode !== 204) throw new Error(`revoke: ${revocation.statusCode} ${revocation.body}`);
    credentials.revoked = revoked.key;

    const expiring = await h.createKey(owner, ['full'], { expires_at: new Date(clock.now().getTime() + 60_000).toISOString() });
    beforeSpoiling.expired = (await me(expiring.key)).statusCode;
    clock.advance(61_000);
    credentials.expired = expiring.key;
  });
  afterAll(async () => h?.close());

  it('each spoiled credential was a working key before it was spoiled, and a well-formed one after', () => {
    expect(beforeSpoiling).toEqual({ badChecksum: 200, revoked: 200, expired: 200 });
    // Only the checksum is wrong: same length and alphabet as an issued key.
    for (const key of Object.values(credentials)) expect(key).toMatch(/^skd_[0-9A-Za-z]{38}$/);
  });

  /** The route with ids that name nothing and a body that passes validation: only the credential can refuse it. */
  function send(route: ExpectedRoute, authorization: string): Promise<LightMyRequestResponse> {
    const body = validBody(route, MISSING_IDS);
    return h.inject({
      method: route.method,
      url: routeUrl(route, MISSING_IDS),
      headers: { authorization, ...body?.headers },
      ...(body === undefined ? {} : { payload: body.payload }),
    });
  }

  it.each(GUARDED)('%s with a key whose checksum is wrong → 401 invalid_token', async (_name, route) => {
    expectRefused(await send(route, `Bearer ${credentials.badChecksum}`), 'invalid_token');
  });

  it.each(GUARDED)('%s with a revoked full key → 401 invalid_token', async (_name, route) => {
    expectRefused(await send(route, `Bearer ${credentials.revoked}`), 'invalid_token');
  });

  it.each(GUARDED)('%s with an expired full key → 401 invalid_token', async (_name, route) => {
    expectRefused(await send(route, `Bearer ${credentials.expired}`), 'invalid_token');
  });

  it.each(GUARDED)('%s with a malformed Authorization header (Basic) → 401 unauthenticated', async (_name, route) => {
    expectRefused(await send(route, 'Basic abc'), 'unauthenticated');
  });
});
