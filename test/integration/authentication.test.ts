import { createHmac, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, jwtVerify, UnsecuredJWT } from 'jose';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/auth/api-key-format.js';
import { createTestClerk, type TestClerk } from '../helpers/clerk.js';
import { openRaw } from '../helpers/http-client.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import type { Problem } from '../helpers/problem.js';

// CONTRACT §2, steps 1–2: who gets `unauthenticated` and who gets `invalid_token`, and the exact header.
const REALM = 'Bearer realm="skaledata"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="skaledata", error="invalid_token"';
const SESSION_CATEGORY = 'cl_B7d4PD111AAA';
const M2M_CATEGORY = 'cl_B7d4PD333AAA';
const ISSUER = 'https://clerk.test.skaledata.local';
const APP_ORIGIN = 'https://app.skaledata.local';



const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Hand-built RS* JWT (RSASSA-PKCS1-v1_5), so headers jose would refuse to sign (crit, …) can be sent. */
function signRsa(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject, hash = 'sha256'): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${sign(hash, Buffer.from(input), key).toString('base64url')}`;
}

/** Claims of a valid Clerk session token (v1 shape) for `sub`, valid for five minutes. */
function sessionClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub: `user_forge${now}`,
    sid: 'sess_forged000001',
    iss: ISSUER,
    azp: APP_ORIGIN,
    iat: now,
    nbf: now,
    exp: now + 300,
    ...extra,
  };
}

/**
 * The negative control: a verifier that trusts the token's `alg` header (the CVE-2022-23540 class).
 * Every forged token below that this accepts is well-formed and validly "signed" by its own rules, so
 * the server's 401 comes from its verification policy and not from a typo in the test.
 */
function naiveVerify(token: string, publicKeyPem: string): Record<string, unknown> | null {
  const [h, p, s, ...rest] = token.split('.');
  if (h === undefined || p === undefined || rest.length > 0) return null;
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string };
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  const alg = String(header.alg ?? '');
  const input = Buffer.from(`${h}.${p}`);
  if (alg.toLowerCase() === 'none') return payload;
  if (s === undefined) return null;
  const signature = Buffer.from(s, 'base64url');
  const bits = alg.slice(2);
  if (alg.startsWith('HS')) {
    const expected = createHmac(`sha${bits}`, publicKeyPem).update(input).digest();
    return expected.equals(signature) ? payload : null;
  }
  if (alg.startsWith('RS')) {
    return verify(`sha${bits}`, input, createPublicKey(publicKeyPem), signature) ? payload : null;
  }
  return null;
}

function expectProblem(response: LightMyRequestResponse, status: number, code: string): Problem {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body).toMatchObject({ status, code, type: `https://docs.skaledata.com/errors/${code}` });
  expect(body.request_id).toMatch(/^req_/);
  return body;
}

function expectUnauthenticated(response: LightMyRequestResponse): void {
  expectProblem(response, 401, 'unauthenticated');
  expect(response.headers['www-authenticate']).toBe(REALM);
}

function expectInvalidToken(response: LightMyRequestResponse): void {
  expectProblem(response, 401, 'invalid_token');
  expect(response.headers['www-authenticate']).toBe(INVALID_TOKEN_CHALLENGE);
}

/** A copy of `key` with one character of its random part replaced: the checksum no longer matches. */
function breakChecksum(key: string): string {
  const position = 10;
  const original = key[position] as string;
  const replacement = original === 'A' ? 'B' : 'A';
  return key.slice(0, position) + replacement + key.slice(position + 1);
}

describe(`authentication (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;
  let user: Account;
  let pem: string;
  let foreign: TestClerk;

  const me = (authorization?: string, url = '/me') =>
    h.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } });

  beforeAll(async () => {
    h = await startHarness({ clock });
    user = await h.newAccount();
    pem = h.clerk.publicKeyPem;
    foreign = createTestClerk();
  });
  afterAll(async () => h?.close());

  describe('baseline (the suite has teeth)', () => {
    it('a valid session token and a valid API key both reach /me', async () => {
      const session = await me(user.auth.authorization);
      expect(session.statusCode).toBe(200);
      expect(session.json()).toMatchObject({ type: 'user', user_id: user.userId, account_id: user.accountId, email: user.email });

      const { id, key } = await h.createKey(user);
      const viaKey = await me(`Bearer ${key}`);
      expect(viaKey.statusCode).toBe(200);
      expect(viaKey.json()).toMatchObject({ type: 'api_key', user_id: user.userId, account_id: user.accountId, api_key: { id, scopes: ['full'] } });
    });

    it('the auth scheme name is case-insensitive (RFC 9110 §11.1)', async () => {
      expect((await me(`bearer ${user.token}`)).statusCode).toBe(200);
      expect((await me(`BEARER ${user.token}`)).statusCode).toBe(200);
    });

    it('public routes need no credentials', async () => {
      expect((await h.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    });
  });

  describe('missing, blank or malformed Authorization → 401 unauthenticated', () => {
    const cases: Array<[string, string | undefined]> = [
      ['no header', undefined],
      ['empty header', ''],
      ['blank header', '   '],
      ['Basic credentials', `Basic ${Buffer.from('user:pass').toString('base64')}`],
      ['Bearer without a token', 'Bearer'],
      ['Bearer and a space', 'Bearer '],
      ['Bearer with spaces inside the token', 'Bearer  two  spaces'],
      ['garbage', 'garbage'],
      ['a token without a scheme', 'eyJhbGciOiJSUzI1NiJ9.e30.sig'],
      ['another scheme', 'Token abc123'],
      ['Bearer, a token and more words', 'Bearer abc def'],
    ];
    it.each(cases)('%s', async (_name, authorization) => {
      expectUnauthenticated(await me(authorization));
    });

    it('a real session token or key under another scheme is still unauthenticated', async () => {
      const { key } = await h.createKey(user);
      expectUnauthenticated(await me(`Basic ${key}`));
      expectUnauthenticated(await me(`Token ${user.token}`));
      expectUnauthenticated(await me(key));
      expectUnauthenticated(await me(user.token));
    });

    it('an API key in the query string is not accepted', async () => {
      const { key } = await h.createKey(user);
      expectUnauthenticated(await me(undefined, `/me?api_key=${key}`));
      expectUnauthenticated(await me(undefined, `/api-keys?api_key=${key}`));
      expectUnauthenticated(await me(undefined, `/me?access_token=${user.token}`));
    });

    it('the same refusal on a route of each kind (full-only, user-only, scoped)', async () => {
      expectUnauthenticated(await h.inject({ method: 'GET', url: '/api-keys' }));
      expectUnauthenticated(await h.inject({ method: 'POST', url: '/api-keys', payload: { name: 'x' } }));
      expectUnauthenticated(await h.inject({ method: 'GET', url: '/clusters' }));
    });
  });

  describe('API keys presented but invalid → 401 invalid_token', () => {
    it('a key with a wrong checksum (one character of the random part changed)', async () => {
      const { key } = await h.createKey(user);
      const broken = breakChecksum(key);
      expect(broken).not.toBe(key);
      expectInvalidToken(await me(`Bearer ${broken}`));
      expect((await me(`Bearer ${key}`)).statusCode).toBe(200);
    });

    it('a bad checksum is refused before any lookup: with api_keys gone it is still a clean 401', async () => {
      const { key } = await h.createKey(user);
      const db = h.deps.database.db;
      await sql`alter table api_keys rename to api_keys_hidden`.execute(db);
      try {
        expectInvalidToken(await me(`Bearer ${breakChecksum(key)}`));
        expectInvalidToken(await me(`Bearer skd_${'x'.repeat(38)}`));
        // A well-formed key does reach the database, which now fails: so the 401 above came first.
        const wellFormed = await me(`Bearer ${key}`);
        expectProblem(wellFormed, 500, 'internal');
        expect(wellFormed.body).not.toMatch(/api_keys|sqlite|relation|select/i);
        expect(wellFormed.body).not.toContain(key);
        // An unknown well-formed key: the filter of stored digests answers 401 without the table.
        const unknown = await me(`Bearer ${generateApiKey()}`);
        expect(unknown.statusCode).toBe(401);
      } finally {
        await sql`alter table api_keys_hidden rename to api_keys`.execute(db);
      }
      expect((await me(`Bearer ${key}`)).statusCode).toBe(200);
    });

    it('a revoked key is refused on the very next request', async () => {
      const { id, key } = await h.createKey(user);
      expect((await me(`Bearer ${key}`)).statusCode).toBe(200);
      const revoke = await h.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: user.auth });
      expect(revoke.statusCode).toBe(204);
      expectInvalidToken(await me(`Bearer ${key}`));
      expectInvalidToken(await h.inject({ method: 'GET', url: '/api-keys', headers: bearer(key) }));
    });

    it('an expired key is refused once the server clock passes expires_at', async () => {
      const expiresAt = new Date(clock.now().getTime() + 60_000).toISOString();
      const { key } = await h.createKey(user, undefined, { expires_at: expiresAt });
      expect((await me(`Bearer ${key}`)).statusCode).toBe(200);
      clock.advance(59_000);
      expect((await me(`Bearer ${key}`)).statusCode).toBe(200);
      clock.advance(2_000);
      expectInvalidToken(await me(`Bearer ${key}`));
    });

    it('a rolled-away key is refused after its grace period', async () => {
      const { id, key: oldKey } = await h.createKey(user);
      const roll = await h.inject({ method: 'POST', url: `/api-keys/${id}/roll`, headers: user.auth, payload: { expires_in_seconds: 30 } });
      expect(roll.statusCode).toBe(200);
      const newKey = (roll.json() as { key: string }).key;
      expect((await me(`Bearer ${oldKey}`)).statusCode).toBe(200);
      clock.advance(31_000);
      expectInvalidToken(await me(`Bearer ${oldKey}`));
      expect((await me(`Bearer ${newKey}`)).statusCode).toBe(200);
    });

    it('an unknown key with a valid checksum (never issued)', async () => {
      const key = generateApiKey();
      expect(key).toMatch(/^skd_[0-9A-Za-z]{38}$/);
      expectInvalidToken(await me(`Bearer ${key}`));
    });

    it('a key with its letters case-mangled', async () => {
      const { key } = await h.createKey(user);
      const swapCase = `skd_${[...key.slice(4)].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('')}`;
      expect(swapCase).not.toBe(key);
      expectInvalidToken(await me(`Bearer ${swapCase}`));
      expectInvalidToken(await me(`Bearer ${key.toUpperCase()}`));
      expectInvalidToken(await me(`Bearer ${key.toLowerCase()}`));
      expect((await me(`Bearer ${key}`)).statusCode).toBe(200);
    });

    it('a key truncated, extended, or with the display prefix only', async () => {
      const { key } = await h.createKey(user);
      expectInvalidToken(await me(`Bearer ${key.slice(0, -1)}`));
      expectInvalidToken(await me(`Bearer ${key}A`));
      expectInvalidToken(await me(`Bearer ${key.slice(0, 8)}`));
      expectInvalidToken(await me(`Bearer ${key}${key}`));
    });

    it('a key with whitespace inside the token is not the key', async () => {
      const { key } = await h.createKey(user);
      // Characters that are not HTTP whitespace (RFC 9110 OWS is only SP and HTAB), so they belong to
      // the token as sent; a lenient trim() would turn them back into the real key.
      const suffixes = ['\u00a0', '\u3000', '\u2028', '\ufeff', '\u000b', '\u000c'];
      const seen: Record<string, string> = {};
      const want: Record<string, string> = {};
      for (const suffix of suffixes) {
        const response = await me(`Bearer ${key}${suffix}`);
        const label = `U+${suffix.charCodeAt(0).toString(16).padStart(4, '0')}`;
        seen[label] = `${response.statusCode} ${response.statusCode === 401 ? String((response.json() as Problem).code) : ''}`;
        want[label] = '401 unauthenticated';
      }
      expect(seen).toEqual(want);
      expectUnauthenticated(await me(`Bearer ${key} x`));
      expectUnauthenticated(await me(`Bearer ${key.slice(0, 20)} ${key.slice(20)}`));
    });

    it('over a real socket, a key followed by a no-break space (byte 0xA0) is not the key', async () => {
      const { key } = await h.createKey(user);
      const address = await listen(h);
      expect(await rawGet(address, '/me', { authorization: `Bearer ${key}` })).toBe(200);
      expect(await rawGet(address, '/me', { authorization: `Bearer ${key}\u00a0` })).toBe(401);
    });

    it('a 100 KB key-shaped token is a 401, never a 500', async () => {
      expectInvalidToken(await me(`Bearer skd_${'A'.repeat(100 * 1024)}`));
    });
  });

  describe('session tokens presented but invalid → 401 invalid_token', () => {
    let trustedPrivate: KeyObject;
    beforeAll(() => {
      trustedPrivate = h.clerk.privateKey;
    });

    it('baseline: a hand-built RS256 token with the session claims is accepted (so the builder is right)', async () => {
      const token = signRsa({ alg: 'RS256', typ: 'JWT', kid: 'ins_test' }, sessionClaims(), trustedPrivate);
      const response = await me(`Bearer ${token}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ type: 'user', user_id: sessionClaims().sub });
    });

    it('signed by a foreign key (with the trusted kid)', async () => {
      const token = await foreign.session({}, { header: { kid: 'ins_test' } });
      // Well-formed: it verifies under its own (untrusted) key.
      await expect(jwtVerify(token, createPublicKey(foreign.publicKeyPem), { algorithms: ['RS256'] })).resolves.toBeTruthy();
      expectInvalidToken(await me(`Bearer ${token}`));
    });

    it('expired beyond the 5 s skew; a token within the skew documents the policy', async () => {
      expectInvalidToken(await me(`Bearer ${await h.clerk.session({}, { expiresInSeconds: -10 })}`));
      expectInvalidToken(await me(`Bearer ${await h.clerk.session({}, { expiresInSeconds: -3600 })}`));
      // exp two seconds ago is inside Clerk's default 5 s skew: accepted.
      expect((await me(`Bearer ${await h.clerk.session({}, { expiresInSeconds: -2 })}`)).statusCode).toBe(200);
    });

    it('exp missing', async () => {
      const token = await h.clerk.session({}, { omit: ['exp'] });
      expect(decodeJwt(token).exp).toBeUndefined();
      expect(naiveVerify(token, pem)).not.toBeNull();
      expectInvalidToken(await me(`Bearer ${token}`));
    });

    it('nbf in the future beyond the skew', async () => {
      expectInvalidToken(await me(`Bearer ${await h.clerk.session({}, { notBeforeOffsetSeconds: 60 })}`));
      expectInvalidToken(await me(`Bearer ${await h.clerk.session({}, { notBeforeOffsetSeconds: 10 })}`));
      expect((await me(`Bearer ${await h.clerk.session({}, { notBeforeOffsetSeconds: 2 })}`)).statusCode).toBe(200);
    });

    it('iat in the future beyond the skew', async () => {
      const now = Math.floor(Date.now() / 1000);
      expectInvalidToken(await me(`Bearer ${await h.clerk.session({ iat: now + 120 })}`));
    });

    describe('alg: none (all spellings, with and without a signature segment)', () => {
      const variants: Array<[string, string]> = [];
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        variants.push([alg, 'no signature segment'], [alg, 'empty signature segment'], [alg, 'a signature segment']);
      }
      it.each(variants)('alg %s, %s', async (alg, shape) => {
        const unsigned = `${b64url({ alg, typ: 'JWT' })}.${b64url(sessionClaims())}`;
        const token =
          shape === 'no signature segment' ? unsigned : shape === 'empty signature segment' ? `${unsigned}.` : `${unsigned}.${b64url('sig')}`;
        // The negative control accepts it: the payload is a complete, current session.
        expect(naiveVerify(token, pem)).toMatchObject({ sub: sessionClaims().sub, sid: 'sess_forged000001' });
        expectInvalidToken(await me(`Bearer ${token}`));
      });

      it('jose UnsecuredJWT (a real library, used naively) decodes the canonical alg:none token', async () => {
        const token = new UnsecuredJWT(sessionClaims()).encode();
        expect(decodeProtectedHeader(token).alg).toBe('none');
        expect(UnsecuredJWT.decode(token).payload).toMatchObject({ sub: sessionClaims().sub, iss: ISSUER });
        expectInvalidToken(await me(`Bearer ${token}`));
      });
    });

    it('HS256 signed with the server public PEM as the HMAC secret (key confusion)', async () => {
      const input = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(sessionClaims())}`;
      const token = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      // A verifier that lets the token choose the algorithm accepts it.
      expect(naiveVerify(token, pem)).not.toBeNull();
      await expect(jwtVerify(token, new TextEncoder().encode(pem))).resolves.toBeTruthy();
      expectInvalidToken(await me(`Bearer ${token}`));

      // The same with the JWK JSON as the secret.
      const jwk = JSON.stringify(createPublicKey(pem).export({ format: 'jwk' }));
      const jwkToken = `${input}.${createHmac('sha256', jwk).update(input).digest('base64url')}`;
      expectInvalidToken(await me(`Bearer ${jwkToken}`));
    });

    it.each([
      ['RS384', 'sha384'],
      ['RS512', 'sha512'],
    ])('%s by the trusted key (the server pins RS256)', async (alg, hash) => {
      const token = signRsa({ alg, typ: 'JWT', kid: 'ins_test' }, sessionClaims(), trustedPrivate, hash);
      // Genuinely signed by the trusted key: an unpinned verifier accepts it.
      await expect(jwtVerify(token, createPublicKey(pem))).resolves.toBeTruthy();
      expect(naiveVerify(token, pem)).not.toBeNull();
      expectInvalidToken(await me(`Bearer ${token}`));
    });

    it('missing sid (not a session token)', async () => {
      const token = await h.clerk.session({}, { omit: ['sid'] });
      await expect(jwtVerify(token, createPublicKey(pem), { algorithms: ['RS256'] })).resolves.toBeTruthy();
      expectInvalidToken(await me(`Bearer ${token}`));
      expectInvalidToken(await me(`Bearer ${await h.clerk.session({ sid: '' })}`));
    });

    it('missing sub', async () => {
      expectInvalidToken(await me(`Bearer ${await h.clerk.session({}, { omit: ['sub'] })}`));
    });

    it('a non-session cat header (M2M, arbitrary) is refused; the session category is accepted', async () => {
      const m2m = await h.clerk.session({}, { header: { cat: M2M_CATEGORY } });
      const arbitrary = await h.clerk.session({}, { header: { cat: 'cl_anything' } });
      for (const token of [m2m, arbitrary]) {
        await expect(jwtVerify(token, createPublicKey(pem), { algorithms: ['RS256'] })).resolves.toBeTruthy();
        expectInvalidToken(await me(`Bearer ${token}`));
      }
      const session = await h.clerk.session({}, { header: { cat: SESSION_CATEGORY } });
      expect((await me(`Bearer ${session}`)).statusCode).toBe(200);
    });

    it.each([
      ['crit', { crit: ['x-skd-ext'], 'x-skd-ext': true }],
      ['jku', { jku: 'http://127.0.0.1:9/jwks.json' }],
      ['jwk', { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }],
      ['x5u', { x5u: 'http://127.0.0.1:9/cert.pem' }],
    ])('a %s header is refused even with a valid signature', async (_name, extra) => {
      const token = signRsa({ alg: 'RS256', typ: 'JWT', kid: 'ins_test', ...extra }, sessionClaims(), trustedPrivate);
      expect(naiveVerify(token, pem)).not.toBeNull();
      expectInvalidToken(await me(`Bearer ${token}`));
    });

    it('a jwk header carrying the attacker key, signed by that key', async () => {
      const jwk = createPublicKey(foreign.publicKeyPem).export({ format: 'jwk' });
      const token = signRsa({ alg: 'RS256', typ: 'JWT', jwk }, sessionClaims(), foreign.privateKey);
      expectInvalidToken(await me(`Bearer ${token}`));
    });

    it('payload tampered after signing', async () => {
      const original = await h.clerk.session();
      const [header, payload, signature] = original.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const tampered = `${header}.${b64url({ ...claims, sub: 'user_victim' })}.${signature}`;
      expect(decodeJwt(tampered).sub).toBe('user_victim');
      expect((await me(`Bearer ${original}`)).statusCode).toBe(200);
      expectInvalidToken(await me(`Bearer ${tampered}`));
      // Signature truncated; signature not base64url.
      expectInvalidToken(await me(`Bearer ${original.slice(0, -6)}`));
      expectInvalidToken(await me(`Bearer ${header}.${payload}.${signature.slice(0, -2)}$$`));
    });

    it('four parts, two parts, empty parts', async () => {
      const token = await h.clerk.session();
      const signature = token.split('.')[2] as string;
      expectInvalidToken(await me(`Bearer ${token}.${signature}`));
      expectInvalidToken(await me(`Bearer ${token.split('.').slice(0, 2).join('.')}`));
      expectInvalidToken(await me(`Bearer ..`));
      expectInvalidToken(await me(`Bearer e30.e30.e30`));
    });

    it('a header that is not JSON, or JSON that is not an object', async () => {
      const claims = b64url(sessionClaims());
      expectInvalidToken(await me(`Bearer ${b64url('not json')}.${claims}.c2ln`));
      expectInvalidToken(await me(`Bearer ${b64url('["RS256"]')}.${claims}.c2ln`));
      expectInvalidToken(await me(`Bearer ${b64url('null')}.${claims}.c2ln`));
    });

    it('a 100 KB token is 401 in-process and 431 over a real socket, never 500', async () => {
      const big = signRsa({ alg: 'RS256', typ: 'JWT', kid: 'ins_test' }, sessionClaims({ pad: 'x'.repeat(100 * 1024) }), trustedPrivate);
      expect(big.length).toBeGreaterThan(100 * 1024);
      expect(naiveVerify(big, pem)).not.toBeNull();
      expectInvalidToken(await me(`Bearer ${big}`));

      const address = await listen(h);
      const status = await rawGet(address, '/me', { authorization: `Bearer ${big}` });
      // Node refuses headers over its 16 KiB limit before the request reaches the app.
      expect(status).toBe(431);
      expect(await rawGet(address, '/me', user.auth)).toBe(200);
    });
  });

  describe('two Authorization headers (issue 10 item 7)', () => {
    const twice = async (first: string, second: string, path = '/me') => {
      const { port } = await listen(h);
      const exchange = await openRaw(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${first}\r\nauthorization: ${second}\r\nConnection: close\r\n\r\n`);
      return exchange.response;
    };

    it('are refused with 400 invalid_request whichever of them is valid, before any credential is looked at', async () => {
      const { key } = await h.createKey(user, ['clusters:read']);
      for (const [first, second] of [
        [`Bearer ${key}`, `Bearer ${key}`],
        [`Bearer ${key}`, 'Bearer skd_invalid'],
        ['Bearer skd_invalid', `Bearer ${key}`],
        [user.auth.authorization, `Bearer ${key}`],
      ] as const) {
        const response = await twice(first, second);
        expect(response.status).toBe(400);
        expect(response.headers['content-type']).toContain('application/problem+json');
        expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="invalid_request"');
        expect(JSON.parse(response.body)).toMatchObject({ status: 400, code: 'invalid_request', detail: 'Send one Authorization header; this request has several.' });
      }
      // The same on a scoped route, and one header alone still works.
      expect((await twice(`Bearer ${key}`, `Bearer ${key}`, '/clusters')).status).toBe(400);
      expect(await rawGet(await listen(h), '/clusters', { authorization: `Bearer ${key}` })).toBe(200);
    });
  });

  describe('issuer and authorized parties (CLERK_ISSUER, CLERK_AUTHORIZED_PARTIES)', () => {
    let strict: Harness;
    beforeAll(async () => {
      strict = await startHarness({ env: { CLERK_ISSUER: ISSUER, CLERK_AUTHORIZED_PARTIES: `${APP_ORIGIN},https://admin.skaledata.local` } });
    });
    afterAll(async () => strict?.close());

    const call = (token: string) => strict.inject({ method: 'GET', url: '/me', headers: bearer(token) });

    it('the configured issuer and an authorized party are accepted', async () => {
      expect((await call(await strict.clerk.session())).statusCode).toBe(200);
      expect((await call(await strict.clerk.session({ azp: 'https://admin.skaledata.local' }))).statusCode).toBe(200);
    });

    it('a wrong or missing iss is refused', async () => {
      expectInvalidToken(await call(await strict.clerk.session({ iss: 'https://other.clerk.accounts.dev' })));
      expectInvalidToken(await call(await strict.clerk.session({ iss: `${ISSUER}/` })));
      expectInvalidToken(await call(await strict.clerk.session({ iss: 'https://dev-issuer.skaledata.local' })));
      expectInvalidToken(await call(await strict.clerk.session({}, { omit: ['iss'] })));
    });

    it('an azp not in the list (or missing) is refused', async () => {
      expectInvalidToken(await call(await strict.clerk.session({ azp: 'https://evil.example' })));
      expectInvalidToken(await call(await strict.clerk.session({ azp: 'https://app.skaledata.local.evil.example' })));
      expectInvalidToken(await call(await strict.clerk.session({}, { omit: ['azp'] })));
    });

    it('without the settings (the default harness) another issuer and azp are accepted', async () => {
      const response = await me(`Bearer ${await h.clerk.session({ iss: 'https://other.clerk.accounts.dev', azp: 'https://evil.example' })}`);
      expect(response.statusCode).toBe(200);
    });
  });

  describe('organisation and email claims', () => {
    it('a v1 token with org_id acts for the organisation', async () => {
      const token = await h.clerk.session({ sub: 'user_orgmember1', org_id: 'org_v1abc', org_role: 'org:admin' });
      const response = await me(`Bearer ${token}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ type: 'user', user_id: 'user_orgmember1', account_id: 'org_v1abc', org_id: 'org_v1abc' });
    });

    it('a v2 token with the compact o.id acts for the organisation', async () => {
      const token = await h.clerk.session({ sub: 'user_orgmember2', v: 2, o: { id: 'org_x', rol: 'admin', slg: 'x' } });
      const response = await me(`Bearer ${token}`);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ type: 'user', user_id: 'user_orgmember2', account_id: 'org_x', org_id: 'org_x' });
    });

    it('without an organisation the account is the user', async () => {
      const response = await me(`Bearer ${await h.clerk.session({ sub: 'user_solo1' })}`);
      expect(response.json()).toMatchObject({ user_id: 'user_solo1', account_id: 'user_solo1', org_id: null });
    });

    it('a subject that is not a user id cannot act in the organisation it names (issue 10 item 8)', async () => {
      // The organisation's own account holds a key: a token whose sub is the org id must not reach it.
      const org = await h.newAccount({ orgId: `org_target${Date.now()}` });
      const { id } = await h.createKey(org, ['clusters:read']);
      for (const sub of [org.orgId as string, `${org.orgId as string}x`, 'root', 'admin_1']) {
        const response = await me(`Bearer ${await h.clerk.session({ sub })}`);
        expect(response.statusCode, sub).toBe(401);
        expect(response.json()).toMatchObject({ code: 'invalid_token' });
        const keys = await h.inject({ method: 'GET', url: `/api-keys/${id}`, headers: bearer(await h.clerk.session({ sub })) });
        expect(keys.statusCode, sub).toBe(401);
      }
      // The organisation's member still gets in, with the org claim (v1 and v2).
      const member = await me(`Bearer ${await h.clerk.session({ sub: 'user_member9', org_id: org.orgId })}`);
      expect(member.json()).toMatchObject({ account_id: org.orgId });
      const keys = await h.inject({ method: 'GET', url: `/api-keys/${id}`, headers: bearer(await h.clerk.session({ sub: 'user_member9', org_id: org.orgId })) });
      expect(keys.statusCode).toBe(200);
    });

    it('an organisation claim that is not an organisation id (a user id) is refused, v1 and v2', async () => {
      const victim = await h.newAccount();
      for (const claims of [{ org_id: victim.userId }, { v: 2, o: { id: victim.userId, rol: 'admin', slg: 'x' } }]) {
        const response = await me(`Bearer ${await h.clerk.session({ sub: 'user_attacker', ...claims })}`);
        expect(response.statusCode).toBe(401);
        expect(response.json()).toMatchObject({ code: 'invalid_token' });
      }
    });

    it('email comes from the default claim `email`', async () => {
      const response = await me(`Bearer ${await h.clerk.session({ email: 'ada@example.com' })}`);
      expect((response.json() as { email: string }).email).toBe('ada@example.com');
      const none = await me(`Bearer ${await h.clerk.session({})}`);
      expect((none.json() as { email: string | null }).email).toBeNull();
    });

    describe('with CLERK_EMAIL_CLAIM=primary_email', () => {
      let custom: Harness;
      beforeAll(async () => {
        custom = await startHarness({ env: { CLERK_EMAIL_CLAIM: 'primary_email' } });
      });
      afterAll(async () => custom?.close());

      it('email is read from the configured claim, and only from it', async () => {
        const token = await custom.clerk.session({ primary_email: 'grace@example.com', email: 'wrong@example.com' });
        const response = await custom.inject({ method: 'GET', url: '/me', headers: bearer(token) });
        expect(response.statusCode).toBe(200);
        expect((response.json() as { email: string }).email).toBe('grace@example.com');

        const onlyDefault = await custom.clerk.session({ email: 'wrong@example.com' });
        const other = await custom.inject({ method: 'GET', url: '/me', headers: bearer(onlyDefault) });
        expect(other.statusCode).toBe(200);
        expect((other.json() as { email: string | null }).email).toBeNull();
      });
    });
  });
});

async function listen(h: Harness): Promise<AddressInfo> {
  if (!h.app.server.listening) await h.app.listen({ port: 0, host: '127.0.0.1' });
  return h.app.server.address() as AddressInfo;
}

/** A GET over a real socket, so Node's own header limits apply; resolves with the status code. */
function rawGet(address: AddressInfo, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: address.port, path, method: 'GET', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
