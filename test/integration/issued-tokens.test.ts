import type { LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigningKeyStore, RETIRED_KEY_PUBLISHED_MS, rotateSigningKey } from '../../src/modules/signing-keys/signing-key-store.js';
import { createTokenIssuer } from '../../src/modules/signing-keys/token-issuer.js';
import { newId } from '../../src/lib/ids.js';
import { open } from '../../src/lib/secret-box.js';
import { createCluster } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import type { Problem } from '../helpers/problem.js';
import { createRunningApp, type AppFixture } from '../helpers/tokens-fixtures.js';
import { X509Certificate } from 'node:crypto';
import { libtrustKeyId } from '../../src/modules/registry/libtrust.js';

/**
 * Tokens this API issues (issue 3 items 5, 6, 8): registry tokens, dev credentials and data-plane
 * tokens, each verified against GET /.well-known/jwks.json the way a registry or data plane would.
 */

const ISSUER = 'http://127.0.0.1:8080';
const REGISTRY = 'registry.skaledata.local';

interface RegistryTokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  expires_at: string;
  registry: string;
  repository: string;
}

interface DevCredentialsBody {
  id: string;
  app_id: string;
  expires_at: string;
  token: string;
  connection: Record<string, unknown>;
}

function expectProblem(response: LightMyRequestResponse, status: number, code: string): Problem {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  return body;
}

/** A problem body without what legitimately differs between two calls (request id, the id asked for). */
function comparable(response: LightMyRequestResponse, id: string): Record<string, unknown> {
  const { request_id: _requestId, ...rest } = response.json() as Problem;
  return { ...rest, detail: rest.detail.split(id).join('<id>'), status_code: response.statusCode };
}

describe(`issued tokens (${TEST_DIALECT})`, () => {
  let h: Harness;
  const clock = new MovableClock();
  let a: Account;
  let b: Account;
  let appA: AppFixture;
  let appB: AppFixture;
  let ciKey: { id: string; key: string };
  let jwksUrl: URL;

  const db = () => h.deps.database.db;
  const post = (url: string, headers: Record<string, string>, payload?: unknown) =>
    h.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const jwks = async (): Promise<JSONWebKeySet> => (await h.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
  const verifyWithJwks = async (token: string, audience: string, currentDate?: Date) =>
    jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: ISSUER, audience, algorithms: ['ES256'], ...(currentDate ? { currentDate } : {}) });
  const countDevCredentials = async (accountId: string) =>
    Number((await db().selectFrom('dev_credentials').select((eb) => eb.fn.countAll<string | number>().as('n')).where('account_id', '=', accountId).executeTakeFirstOrThrow()).n);

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, clock });
    [a, b] = await Promise.all([h.newAccount(), h.newAccount()]);
    [appA, appB] = await Promise.all([createRunningApp(h, a, { type: 'airflow' }), createRunningApp(h, b)]);
    ciKey = await h.createKey(a, ['apps:deploy', 'clusters:read']);
    jwksUrl = new URL('/.well-known/jwks.json', await h.app.listen({ host: '127.0.0.1', port: 0 }));
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('GET /.well-known/jwks.json', () => {
    it('publishes one ES256 public key, without private material, to anyone: under its kid and its libtrust id', async () => {
      const response = await h.inject({ method: 'GET', url: '/.well-known/jwks.json' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const body = response.json() as { keys: Array<Record<string, string>> };
      expect(body.keys).toHaveLength(2);
      const [key, alias] = body.keys;
      // The alias is the same key under the id Docker Distribution computes for it (registry tokens carry it).
      expect(alias).toEqual({ ...key, kid: libtrustKeyId({ kty: 'EC', crv: 'P-256', x: key?.x, y: key?.y }) });
      expect(Object.keys(key ?? {}).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key?.kid).toMatch(/^sk_[0-9A-Za-z]{25}$/);
      const stored = await db().selectFrom('signing_keys').selectAll().execute();
      expect(stored.map((row) => row.kid)).toEqual([key?.kid]);
      expect(stored[0]?.retired_at).toBeNull();
    });
  });

  describe('POST /apps/{id}/registry-token', () => {
    it('gives the CI/CD key a Docker registry token for exactly its app repository, verifiable with the JWKS', async () => {
      const response = await post(`/apps/${appA.appId}/registry-token`, bearer(ciKey.key));
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as RegistryTokenBody;
      const repository = `${a.accountId.toLowerCase()}/${appA.name}`;
      expect(body.registry).toBe(REGISTRY);
      expect(body.repository).toBe(repository);
      expect(body.access_token).toBe(body.token);
      expect(body.expires_in).toBe(900);

      const { payload, protectedHeader } = await jwtVerify(body.token, createRemoteJWKSet(jwksUrl), { issuer: ISSUER, audience: REGISTRY, algorithms: ['ES256'] });
      expect(protectedHeader.alg).toBe('ES256');
      const [published] = (await jwks()).keys;
      expect(protectedHeader.kid).toBe(libtrustKeyId({ kty: 'EC', crv: 'P-256', x: published?.x, y: published?.y }));
      expect(payload.sub).toBe(ciKey.id);
      expect(payload.aud).toBe(REGISTRY);
      expect(payload.access).toEqual([{ type: 'repository', name: repository, actions: ['pull', 'push'] }]);
      expect(payload.exp).toBe((payload.iat ?? 0) + 900);
      expect(payload.nbf).toBe(payload.iat);
      expect(payload.jti).toMatch(/^[0-9A-Za-z]{24}$/);
      expect(Math.abs((payload.iat ?? 0) * 1000 - clock.now().getTime())).toBeLessThan(5_000);
      expect(body.issued_at).toBe(new Date((payload.iat ?? 0) * 1000).toISOString());
      expect(body.expires_at).toBe(new Date((payload.exp ?? 0) * 1000).toISOString());
    });

    it('names the user as subject, narrows to pull when asked, and issues a new jti each time', async () => {
      const first = (await post(`/apps/${appA.appId}/registry-token`, a.auth, { actions: ['pull'] })).json() as RegistryTokenBody;
      const second = (await post(`/apps/${appA.appId}/registry-token`, a.auth)).json() as RegistryTokenBody;
      const one = (await verifyWithJwks(first.token, REGISTRY)).payload;
      const two = (await verifyWithJwks(second.token, REGISTRY)).payload;
      expect(one.sub).toBe(a.userId);
      expect(one.access).toEqual([{ type: 'repository', name: first.repository, actions: ['pull'] }]);
      expect(two.access).toEqual([{ type: 'repository', name: first.repository, actions: ['pull', 'push'] }]);
      expect(one.jti).not.toBe(two.jti);
    });

    it('refuses a tampered, re-signed-as-none or expired token', async () => {
      const { token } = (await post(`/apps/${appA.appId}/registry-token`, bearer(ciKey.key))).json() as RegistryTokenBody;
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = decodeJwt(token);
      // Widen the grant to another account's repository, keep the signature.
      const widened = Buffer.from(JSON.stringify({ ...claims, access: [{ type: 'repository', name: `${b.accountId}/${appB.name}`, actions: ['pull', 'push'] }] })).toString('base64url');
      await expect(verifyWithJwks(`${header}.${widened}.${signature}`, REGISTRY)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
      await expect(verifyWithJwks(`${header}.${payload}.${flipped}`, REGISTRY)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
      const none = Buffer.from(JSON.stringify({ ...decodeProtectedHeader(token), alg: 'none' })).toString('base64url');
      await expect(verifyWithJwks(`${none}.${payload}.`, REGISTRY)).rejects.toThrow();
      await expect(verifyWithJwks(token, 'another-registry')).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
      const afterExpiry = new Date(((claims.exp ?? 0) + 1) * 1000);
      await expect(verifyWithJwks(token, REGISTRY, afterExpiry)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    });

    it('answers another account\'s app exactly like a missing one, and refuses bad input with 400', async () => {
      const missing = newId('app');
      const foreign = await post(`/apps/${appB.appId}/registry-token`, bearer(ciKey.key));
      const absent = await post(`/apps/${missing}/registry-token`, bearer(ciKey.key));
      expectProblem(foreign, 404, 'not_found');
      expect(comparable(foreign, appB.appId)).toEqual(comparable(absent, missing));

      for (const payload of [{ actions: ['delete'] }, { actions: [] }, { actions: ['pull', 'pull'] }, { actions: 'pull' }, { scope: 'repository:x:pull' }]) {
        const body = expectProblem(await post(`/apps/${appA.appId}/registry-token`, bearer(ciKey.key), payload), 400, 'validation_failed');
        expect(body.errors?.[0]?.path).toMatch(/^(actions|scope)/);
      }
      expectProblem(await post('/apps/bad%20id!/registry-token', bearer(ciKey.key)), 400, 'validation_failed');
      expectProblem(await post(`/apps/${'a'.repeat(65)}/registry-token`, bearer(ciKey.key)), 400, 'validation_failed');
    });

    it('gives no token for an app being deleted (409) or deleted (404)', async () => {
      const deleting = await createRunningApp(h, a, { clusterId: appA.clusterId, status: 'deleting' });
      const conflictBody = expectProblem(await post(`/apps/${deleting.appId}/registry-token`, a.auth), 409, 'conflict');
      expect(conflictBody.detail).toBe(`App ${deleting.appId} is deleting; it no longer gets credentials.`);
      const gone = await createRunningApp(h, a, { clusterId: appA.clusterId });
      await db().updateTable('apps').set({ deleted_at: clock.now().toISOString(), status: 'deleted' }).where('id', '=', gone.appId).execute();
      expectProblem(await post(`/apps/${gone.appId}/registry-token`, a.auth), 404, 'not_found');
    });
  });

  describe('POST /apps/{id}/dev-credentials', () => {
    it('issues a token scoped to the app with its connection settings, and records the issuance (not the token)', async () => {
      const before = await countDevCredentials(a.accountId);
      const response = await post(`/apps/${appA.appId}/dev-credentials`, a.auth);
      expect(response.statusCode, response.body).toBe(201);
      const body = response.json() as DevCredentialsBody;
      expect(body.id).toMatch(/^dcr_/);
      expect(body.app_id).toBe(appA.appId);

      const cluster = (await h.inject({ method: 'GET', url: `/clusters/${appA.clusterId}`, headers: a.auth })).json() as { endpoint: string };
      expect(cluster.endpoint).toMatch(/^https:\/\//);
      expect(body.connection).toEqual({
        api_url: ISSUER,
        cluster_endpoint: cluster.endpoint,
        namespace: `app-${appA.name}`,
        app_name: appA.name,
        type: 'airflow',
        airflow_url: `https://${appA.name}.apps.${new URL(cluster.endpoint).host}`,
      });

      const { payload } = await verifyWithJwks(body.token, `skaledata:app:${appA.appId}`);
      expect(payload).toMatchObject({ sub: a.userId, app_id: appA.appId, account: a.accountId, cluster_id: appA.clusterId, jti: body.id, iss: ISSUER });
      expect(payload.exp).toBe((payload.iat ?? 0) + 900);
      expect(body.expires_at).toBe(new Date((payload.exp ?? 0) * 1000).toISOString());
      // Scoped to this app: it does not pass as a registry or another app's token.
      await expect(verifyWithJwks(body.token, `skaledata:app:${appB.appId}`)).rejects.toMatchObject({ claim: 'aud' });

      expect(await countDevCredentials(a.accountId)).toBe(before + 1);
      const row = await db().selectFrom('dev_credentials').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
      expect(row).toEqual({
        id: body.id,
        account_id: a.accountId,
        app_id: appA.appId,
        issued_to: a.userId,
        principal_type: 'user',
        expires_at: body.expires_at,
        created_at: new Date((payload.iat ?? 0) * 1000).toISOString(),
      });
      expect(JSON.stringify(row)).not.toContain(body.token.split('.')[2]);
    });

    it('takes a shorter lifetime, records an API key as the recipient, and omits airflow_url for services', async () => {
      const service = await createRunningApp(h, a, { clusterId: appA.clusterId, type: 'service' });
      const response = await post(`/apps/${service.appId}/dev-credentials`, bearer(ciKey.key), { ttl_seconds: 120 });
      expect(response.statusCode, response.body).toBe(201);
      const body = response.json() as DevCredentialsBody;
      expect(body.connection.type).toBe('service');
      expect('airflow_url' in body.connection).toBe(false);
      const { payload } = await verifyWithJwks(body.token, `skaledata:app:${service.appId}`);
      expect(payload.exp).toBe((payload.iat ?? 0) + 120);
      expect(payload.sub).toBe(ciKey.id);
      const row = await db().selectFrom('dev_credentials').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
      expect([row.issued_to, row.principal_type]).toEqual([ciKey.id, 'api_key']);
    });

    it('refuses bad input, another account\'s app and missing scopes, recording nothing', async () => {
      const beforeA = await countDevCredentials(a.accountId);
      const beforeB = await countDevCredentials(b.accountId);
      for (const payload of [{ ttl_seconds: 30 }, { ttl_seconds: 901 }, { ttl_seconds: '900' }, { ttl_seconds: 60.5 }, { app_id: appB.appId }]) {
        expectProblem(await post(`/apps/${appA.appId}/dev-credentials`, a.auth, payload), 400, 'validation_failed');
      }
      const foreign = await post(`/apps/${appB.appId}/dev-credentials`, a.auth);
      const missing = newId('app');
      expect(comparable(foreign, appB.appId)).toEqual(comparable(await post(`/apps/${missing}/dev-credentials`, a.auth), missing));
      expectProblem(foreign, 404, 'not_found');
      const monitoring = await h.createKey(a, ['clusters:read', 'apps:read', 'jobs:read']);
      const refused = expectProblem(await post(`/apps/${appA.appId}/dev-credentials`, bearer(monitoring.key)), 403, 'insufficient_scope');
      expect(refused.detail).toBe('API key missing required scope: apps:deploy');
      expect(await countDevCredentials(a.accountId)).toBe(beforeA);
      expect(await countDevCredentials(b.accountId)).toBe(beforeB);
    });
  });

  describe('POST /clusters/{id}/data-plane-token', () => {
    it("carries the user's id and email for that cluster, verifiable with the JWKS, for 5 minutes", async () => {
      const response = await post(`/clusters/${appA.clusterId}/data-plane-token`, a.auth);
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json() as { token: string; audience: string; cluster_id: string; expires_in: number; token_type: string; expires_at: string };
      expect(body).toMatchObject({ audience: `skaledata:cluster:${appA.clusterId}`, cluster_id: appA.clusterId, expires_in: 300, token_type: 'Bearer' });
      const { payload } = await jwtVerify(body.token, createRemoteJWKSet(jwksUrl), { issuer: ISSUER, audience: body.audience, algorithms: ['ES256'] });
      expect(payload).toMatchObject({ sub: a.userId, email: a.email, account: a.accountId, cluster_id: appA.clusterId });
      expect(payload.exp).toBe((payload.iat ?? 0) + 300);
      expect(body.expires_at).toBe(new Date((payload.exp ?? 0) * 1000).toISOString());
    });

    it('works on a cluster that is still provisioning, not on a deleted, foreign or missing one', async () => {
      const provisioning = await createCluster(h, a);
      const early = await post(`/clusters/${provisioning.clusterId}/data-plane-token`, a.auth);
      expect(early.statusCode, early.body).toBe(200);

      const deleted = await createCluster(h, a, { wait: true });
      await db().updateTable('clusters').set({ status: 'deleted', deleted_at: clock.now().toISOString() }).where('id', '=', deleted.clusterId).execute();
      expectProblem(await post(`/clusters/${deleted.clusterId}/data-plane-token`, a.auth), 404, 'not_found');

      const missing = newId('cluster');
      const foreign = await post(`/clusters/${appB.clusterId}/data-plane-token`, a.auth);
      expectProblem(foreign, 404, 'not_found');
      expect(comparable(foreign, appB.clusterId)).toEqual(comparable(await post(`/clusters/${missing}/data-plane-token`, a.auth), missing));
    });

    it('says a session without an email lacks one (400 session.email)', async () => {
      const noEmail = await h.newAccount({ email: null });
      const cluster = await createCluster(h, noEmail);
      const body = expectProblem(await post(`/clusters/${cluster.clusterId}/data-plane-token`, noEmail.auth), 400, 'validation_failed');
      expect(body.detail).toMatch(/^session\.email: the session lacks an email/);
      expect(body.errors).toEqual([{ path: 'session.email', message: expect.stringMatching(/^the session lacks an email/) }]);
    });

    it('refuses every API key (full included) before looking at the id, and unknown fields', async () => {
      const full = await h.createKey(a, ['full']);
      for (const id of [appA.clusterId, newId('cluster')]) {
        const body = expectProblem(await post(`/clusters/${id}/data-plane-token`, bearer(full.key)), 403, 'user_session_required');
        expect(body.detail).toBe('This endpoint requires a user session and does not accept API keys.');
      }
      expectProblem(await post(`/clusters/${appA.clusterId}/data-plane-token`, a.auth, { email: 'someone@else.example' }), 400, 'validation_failed');
    });
  });

  describe('scopes on the apps:deploy routes', () => {
    const cases: Array<{ scopes: string[]; allowed: boolean }> = [
      { scopes: ['apps:deploy'], allowed: true },
      { scopes: ['full'], allowed: true },
      { scopes: ['clusters:read', 'apps:read', 'jobs:read'], allowed: false },
      { scopes: ['apps:manage'], allowed: false },
      { scopes: ['terminal:exec', 'clusters:write'], allowed: false },
    ];
    it.each(cases)('$scopes → allowed: $allowed, for any id', async ({ scopes, allowed }) => {
      const key = await h.createKey(a, scopes);
      const requests: Array<[string, string]> = [
        ['POST', `/apps/${appA.appId}/registry-token`],
        ['POST', `/apps/${appA.appId}/dev-credentials`],
        ['GET', `/apps/${appA.appId}/deploy-script`],
        ['POST', `/apps/${newId('app')}/registry-token`],
      ];
      for (const [method, url] of requests) {
        const response = await h.inject({ method: method as 'GET' | 'POST', url, headers: bearer(key.key) });
        if (allowed) {
          expect(response.statusCode, url).toBe(url.includes(appA.appId) ? (url.endsWith('dev-credentials') ? 201 : 200) : 404);
        } else {
          const body = expectProblem(response, 403, 'insufficient_scope');
          expect(body.detail).toBe('API key missing required scope: apps:deploy');
          expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="insufficient_scope", scope="apps:deploy"');
        }
      }
    });
  });
});

describe(`signing keys: shared, sealed and rotated (${TEST_DIALECT})`, () => {
  let h: Harness;
  const clock = new MovableClock();
  let a: Account;
  let clusterId: string;

  const jwks = async (): Promise<JSONWebKeySet> => (await h.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
  // Our kids (each key is also published under its libtrust id, which the registry tests cover).
  const certificateCommonNames = async () => {
    const pem = (await h.inject({ method: 'GET', url: '/.well-known/registry-certs.pem' })).body;
    return (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((one) => /CN=SkaleData token signing key (\S+)/.exec(new X509Certificate(one).subject)?.[1]);
  };
  const kids = async () => (await jwks()).keys.map((key) => key.kid).filter((kid) => kid?.startsWith('sk_')).sort();
  const dataPlaneToken = async () => {
    const response = await h.inject({ method: 'POST', url: `/clusters/${clusterId}/data-plane-token`, headers: a.auth });
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as { token: string }).token;
  };
  const verify = async (token: string, keys?: JSONWebKeySet, at: Date = clock.now()): Promise<JWTPayload> =>
    (await jwtVerify(token, createLocalJWKSet(keys ?? (await jwks())), { issuer: ISSUER, audience: `skaledata:cluster:${clusterId}`, algorithms: ['ES256'], currentDate: at })).payload;
  const store = (encryptionKey = h.deps.encryptionKey) => createSigningKeyStore({ db: h.deps.database.db, clock, encryptionKey });

  beforeAll(async () => {
    h = await startHarness({ clock });
    a = await h.newAccount();
    clusterId = (await createCluster(h, a)).clusterId;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('two instances creating the first key at once both sign tokens the JWKS verifies', async () => {
    expect(await h.deps.database.db.selectFrom('signing_keys').selectAll().execute()).toEqual([]);
    const [one, two] = [store(), store()];
    const [first, second] = await Promise.all([one.activeKey(), two.activeKey()]);
    const published = await kids();
    expect(published).toContain(first.kid);
    expect(published).toContain(second.kid);
    for (const keys of [one, two]) {
      const issued = await createTokenIssuer({ keys, clock, issuer: ISSUER }).sign({ probe: true }, { audience: `skaledata:cluster:${clusterId}`, subject: 'user_x', ttlSeconds: 60 });
      expect((await verify(issued.token)).probe).toBe(true);
    }
    // The server signs with the newest active key, the same one a fresh instance would pick.
    const serverKid = decodeProtectedHeader(await dataPlaneToken()).kid;
    expect(serverKid).toBe((await store().activeKey()).kid);
  });

  it('keeps private keys sealed, bound to their kid, usable only with ENCRYPTION_KEY', async () => {
    const rows = await h.deps.database.db.selectFrom('signing_keys').selectAll().execute();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const privateJwk = JSON.parse(open(h.deps.encryptionKey, row.private_key_encrypted, `signing-key:${row.kid}`)) as { d: string };
      expect(privateJwk.d.length).toBeGreaterThan(20);
      expect(row.private_key_encrypted).not.toContain(privateJwk.d);
      expect(row.public_jwk).not.toContain(privateJwk.d);
      expect(row.algorithm).toBe('ES256');
      const other = rows.find((candidate) => candidate.kid !== row.kid)?.kid ?? 'sk_other';
      expect(() => open(h.deps.encryptionKey, row.private_key_encrypted, `signing-key:${other}`)).toThrow();
    }
    await expect(store(Buffer.alloc(32, 7)).activeKey()).rejects.toThrow();
  });

  it('rotation: new tokens use the new kid, the old kid stays published until its tokens expire', async () => {
    const before = await dataPlaneToken();
    const oldKid = decodeProtectedHeader(before).kid as string;
    const { kid: newKid, retired } = await rotateSigningKey(h.deps.database.db, clock, h.deps.encryptionKey);
    expect(retired).toContain(oldKid);
    expect(newKid).not.toBe(oldKid);
    const rows = await h.deps.database.db.selectFrom('signing_keys').select(['kid', 'retired_at']).execute();
    expect(rows.filter((row) => row.retired_at === null).map((row) => row.kid)).toEqual([newKid]);

    // The server re-reads its keys every minute.
    clock.advance(61_000);
    const after = await dataPlaneToken();
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    expect(await kids()).toEqual(expect.arrayContaining([oldKid, newKid]));
    // The registry's certificate bundle follows: one certificate per published key, new and old.
    expect(await certificateCommonNames()).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect((await verify(before)).sub).toBe(a.userId);
    expect((await verify(after)).sub).toBe(a.userId);

    // Fifteen minutes of token lifetime plus the minute other instances may lag: then the old key goes.
    clock.advance(15 * 60_000 - 2_000);
    expect(await kids()).toContain(oldKid);
    clock.advance(62_000);
    expect(await kids()).toEqual([newKid]);
    expect(await certificateCommonNames()).toEqual([newKid]);
    const remaining = await jwks();
    await expect(jwtVerify(before, createLocalJWKSet(remaining), { algorithms: ['ES256'] })).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    // The new key still verifies (checked at the token's own issue time: a data-plane token lasts 5 min).
    expect((await verify(after, remaining, new Date((decodeJwt(after).iat ?? 0) * 1000))).sub).toBe(a.userId);
  });

  it('a staged rotation publishes the new key (JWKS and registry certificates) before it signs, then switches on time', async () => {
    const oldKid = decodeProtectedHeader(await dataPlaneToken()).kid as string;
    const { kid: newKid, retired, activatesAt } = await rotateSigningKey(h.deps.database.db, clock, h.deps.encryptionKey, 3600);
    expect(retired).toEqual([oldKid]);
    expect(Math.abs(activatesAt.getTime() - (clock.now().getTime() + 3_600_000))).toBeLessThan(1_000);

    // Within the refresh interval the new key is published, while tokens are still signed with the old one.
    clock.advance(61_000);
    expect(await kids()).toEqual([newKid, oldKid].sort());
    expect(await certificateCommonNames()).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect(decodeProtectedHeader(await dataPlaneToken()).kid).toBe(oldKid);
    const fresh = store();
    expect((await fresh.activeKey()).kid).toBe(oldKid);

    // Just before the activation time: still the old key, on an instance that has not re-read the table too.
    clock.advance(3_600_000 - 61_000 - 1_000);
    expect(decodeProtectedHeader(await dataPlaneToken()).kid).toBe(oldKid);
    // At it: the new key, on every instance, without waiting for a re-read.
    clock.advance(1_000);
    const switched = await dataPlaneToken();
    expect(decodeProtectedHeader(switched).kid).toBe(newKid);
    expect((await fresh.activeKey()).kid).toBe(newKid);
    expect((await verify(switched)).sub).toBe(a.userId);
    // The old key stays published for its tokens' lifetime after it stopped signing, then goes.
    clock.advance(RETIRED_KEY_PUBLISHED_MS - 1_000);
    expect(await kids()).toContain(oldKid);
    clock.advance(62_000);
    expect(await kids()).toEqual([newKid]);
    expect(await certificateCommonNames()).toEqual([newKid]);
    await expect(rotateSigningKey(h.deps.database.db, clock, h.deps.encryptionKey, -1)).rejects.toThrow('activation delay');
  });

  it('an instance re-reads the keys when it meets an unknown kid (at most every 5 s)', async () => {
    const instance = store();
    const { kid: current } = await instance.activeKey();
    const { kid: rotated } = await rotateSigningKey(h.deps.database.db, clock, h.deps.encryptionKey);
    expect(await instance.publicKey(rotated)).toBeNull();
    clock.advance(5_001);
    expect(await instance.publicKey(rotated)).not.toBeNull();
    expect((await instance.activeKey()).kid).toBe(rotated);
    expect(await instance.publicKey(current)).not.toBeNull();
    expect(await instance.publicKey('sk_unknown')).toBeNull();
  });
});
