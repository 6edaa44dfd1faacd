import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { libtrustKeyId } from '../../src/modules/registry/libtrust.js';
import { registryRepository } from '../../src/modules/registry/registry-service.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { createRunningApp, type AppFixture } from '../helpers/tokens-fixtures.js';

/**
 * GET /registry/token, the realm of the Docker registry token protocol, through the HTTP stack: what
 * it grants (the intersection of the asked scope with the credential's), and its answers to bad input.
 * The stock registry's own verdicts are in registry-interop.test.ts.
 */

const SERVICE = 'registry.skaledata.test';

const basic = (password: string, user = 'ci') => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe(`GET /registry/token (${TEST_DIALECT})`, () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  let appA: AppFixture;
  let appB: AppFixture;
  let closing: AppFixture;
  let keys: Record<'deploy' | 'read' | 'clusters' | 'full' | 'revoked', { id: string; key: string }>;
  const logLines: string[] = [];

  const realm = (query: string, headers: Record<string, string>) => h.inject({ method: 'GET', url: `/registry/token?${query}`, headers });
  const scopeQuery = (...scopes: string[]) => [`service=${SERVICE}`, ...scopes.map((s) => `scope=${encodeURIComponent(s)}`)].join('&');
  const repo = (account: Account, app: AppFixture) => registryRepository(account.accountId, app.name);

  async function access(query: string, headers: Record<string, string>) {
    const response = await realm(query, headers);
    expect(response.statusCode, response.body).toBe(200);
    const body = response.json() as { token: string; access_token: string; expires_in: number; issued_at: string };
    const jwks = (await h.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
    const { payload } = await jwtVerify(body.token, createLocalJWKSet(jwks), { audience: SERVICE, issuer: h.deps.config.publicUrl, algorithms: ['ES256'] });
    return { body, payload, response };
  }

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, env: { REGISTRY_SERVICE: SERVICE }, logLines });
    [a, b] = await Promise.all([h.newAccount(), h.newAccount()]);
    [appA, appB, closing] = await Promise.all([createRunningApp(h, a), createRunningApp(h, b), createRunningApp(h, a, { status: 'deleting' })]);
    keys = {
      deploy: await h.createKey(a, ['apps:deploy', 'clusters:read']),
      read: await h.createKey(a, ['apps:read']),
      clusters: await h.createKey(a, ['clusters:read', 'jobs:read']),
      full: await h.createKey(a, ['full']),
      revoked: await h.createKey(a, ['apps:deploy']),
    };
    const revoked = await h.inject({ method: 'DELETE', url: `/api-keys/${keys.revoked.id}`, headers: a.auth });
    expect(revoked.statusCode).toBe(204);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers the token protocol with a token naming the key by its libtrust id', async () => {
    const { body, payload, response } = await access(scopeQuery(`repository:${repo(a, appA)}:pull,push`), basic(keys.deploy.key));
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'issued_at', 'token']);
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(900);
    expect(body.issued_at).toBe(new Date((payload.iat ?? 0) * 1000).toISOString());
    expect(response.headers['cache-control']).toBe('no-store');
    expect(payload).toMatchObject({ sub: keys.deploy.id, aud: SERVICE, access: [{ type: 'repository', name: repo(a, appA), actions: ['pull', 'push'] }] });
    const jwks = (await h.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string; x: string; y: string }> };
    const ours = jwks.keys.find((key) => key.kid.startsWith('sk_'));
    expect(decodeProtectedHeader(body.token).kid).toBe(libtrustKeyId({ kty: 'EC', crv: 'P-256', x: ours?.x, y: ours?.y }));
  });

  it('grants the intersection: apps:deploy push+pull, apps:read pull, no apps scope nothing; other repositories nothing', async () => {
    const ask = scopeQuery(`repository:${repo(a, appA)}:pull,push`, `repository:${repo(b, appB)}:pull,push`, `repository:${repo(a, appA).split('/')[0]}/nothing:pull`);
    expect((await access(ask, basic(keys.deploy.key))).payload.access).toEqual([{ type: 'repository', name: repo(a, appA), actions: ['pull', 'push'] }]);
    expect((await access(ask, basic(keys.full.key))).payload.access).toEqual([{ type: 'repository', name: repo(a, appA), actions: ['pull', 'push'] }]);
    expect((await access(ask, basic(keys.read.key))).payload.access).toEqual([{ type: 'repository', name: repo(a, appA), actions: ['pull'] }]);
    expect((await access(ask, basic(keys.clusters.key))).payload.access).toEqual([]);
    // A user session works as the password too (docker login with a session token), for its own account only.
    expect((await access(ask, basic(a.token))).payload.access).toEqual([{ type: 'repository', name: repo(a, appA), actions: ['pull', 'push'] }]);
    expect((await access(ask, basic(b.token))).payload.access).toEqual([{ type: 'repository', name: repo(b, appB), actions: ['pull', 'push'] }]);
    // Only what was asked: a pull request gets pull, a catalog request nothing, an app being deleted nothing.
    expect((await access(scopeQuery(`repository:${repo(a, appA)}:pull`), basic(keys.deploy.key))).payload.access).toEqual([
      { type: 'repository', name: repo(a, appA), actions: ['pull'] },
    ]);
    expect((await access(scopeQuery('registry:catalog:*'), basic(keys.full.key))).payload.access).toEqual([]);
    expect((await access(scopeQuery(`repository:${repo(a, closing)}:pull,push`), basic(keys.deploy.key))).payload.access).toEqual([]);
  });

  it('a key limited to some resources is granted its own apps only (CONTRACT §7 resources)', async () => {
    const second = await createRunningApp(h, a);
    const fenced = await h.createKey(a, ['apps:deploy'], { resources: { apps: [appA.appId] } });
    const ask = scopeQuery(`repository:${repo(a, appA)}:pull,push`, `repository:${repo(a, second)}:pull,push`);
    expect((await access(ask, basic(fenced.key))).payload.access).toEqual([{ type: 'repository', name: repo(a, appA), actions: ['pull', 'push'] }]);
    // The whole-account key of the same account gets both.
    expect(((await access(ask, basic(keys.deploy.key))).payload.access as unknown[]).length).toBe(2);
  });

  it('records each refusal in the log: who asked for which repository, and what was granted', async () => {
    const foreign = `repository:${repo(b, appB)}:pull,push`;
    await access(scopeQuery(`repository:${repo(a, appA)}:pull,push`, foreign), basic(keys.read.key));
    const line = logLines.map((text) => JSON.parse(text) as Record<string, unknown>).findLast((entry) => entry.msg === 'registry access refused');
    expect(line).toBeDefined();
    expect(JSON.stringify(line)).toContain(keys.read.id);
    expect((line?.registry as { refused: string[] }).refused).toEqual([`repository:${repo(a, appA)}:pull,push`, foreign]);
    expect((line?.registry as { granted: unknown }).granted).toEqual([{ type: 'repository', name: repo(a, appA), actions: ['pull'] }]);
    expect(logLines.join('\n')).not.toContain(keys.read.key);
  });

  it('a login without a scope (docker/skopeo login) gets a token granting nothing', async () => {
    expect((await access(`service=${SERVICE}`, basic(keys.deploy.key))).payload.access).toEqual([]);
  });

  it('accepts a Bearer header as well, for scripts', async () => {
    expect((await access(scopeQuery(`repository:${repo(a, appA)}:pull`), bearer(keys.read.key))).payload.access).toHaveLength(1);
  });

  it.each([
    ['no credentials', {}, 'unauthenticated'],
    ['Basic without a colon', { authorization: `Basic ${Buffer.from('nocolon').toString('base64')}` }, 'unauthenticated'],
    ['Basic that is not base64', { authorization: 'Basic !!!' }, 'unauthenticated'],
    ['an empty password', basic(''), 'unauthenticated'],
    ['a garbage password', basic('hunter2'), 'invalid_token'],
    ['a key with a bad checksum', basic(`skd_${'A'.repeat(38)}`), 'invalid_token'],
    ['another scheme', { authorization: 'Digest username="x"' }, 'unauthenticated'],
  ])('%s → 401 with a Basic challenge', async (_name, headers, code) => {
    const response = await realm(scopeQuery(`repository:${repo(a, appA)}:pull`), headers as Record<string, string>);
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.headers['www-authenticate']).toBe('Basic realm="SkaleData registry", charset="UTF-8"');
    expect((response.json() as Problem).code).toBe(code);
    expect(response.body).not.toContain('token":');
  });

  it('two Authorization headers → 400 invalid_request, whichever comes first (as on every route)', async () => {
    for (const pair of [
      [basic(keys.deploy.key).authorization, 'Bearer garbage'],
      ['Bearer garbage', basic(keys.deploy.key).authorization],
    ]) {
      const response = await h.inject({
        method: 'GET',
        url: `/registry/token?${scopeQuery(`repository:${repo(a, appA)}:pull,push`)}`,
        headers: { authorization: pair as unknown as string },
      });
      expect(response.statusCode, response.body).toBe(400);
      expect((response.json() as Problem).code).toBe('invalid_request');
    }
  });

  it('grants nothing for extra path segments, other actions or an unhashed twin of a mixed-case account', async () => {
    const own = repo(a, appA);
    const ask = (scope: string) => access(scopeQuery(scope), basic(keys.deploy.key));
    expect((await ask(`repository:${own}/extra:pull,push`)).payload.access).toEqual([]);
    expect((await ask(`repository:${own}:delete`)).payload.access).toEqual([]);
    expect((await ask(`repository:${own}:*`)).payload.access).toEqual([{ type: 'repository', name: own, actions: ['pull', 'push'] }]);

    // Clerk ids are mixed-case: such an account's namespace is lower-cased plus a hash of the exact id, so
    // the account whose id is the lower-cased twin has a namespace of its own, and neither reaches the other.
    const mixed = await h.newAccount({ orgId: 'org_2MixedCASEregistry' });
    const twin = await h.newAccount({ orgId: 'org_2mixedcaseregistry' });
    const [mixedApp, twinApp] = await Promise.all([createRunningApp(h, mixed, { name: 'web' }), createRunningApp(h, twin, { name: 'web' })]);
    const mixedRepo = repo(mixed, mixedApp);
    const twinRepo = repo(twin, twinApp);
    expect(mixedRepo).toMatch(/^org_2mixedcaseregistry-[0-9a-f]{10}\/web$/);
    expect(twinRepo).toBe('org_2mixedcaseregistry/web');
    const both = scopeQuery(`repository:${mixedRepo}:pull,push`, `repository:${twinRepo}:pull,push`);
    expect((await access(both, basic(mixed.token))).payload.access).toEqual([{ type: 'repository', name: mixedRepo, actions: ['pull', 'push'] }]);
    expect((await access(both, basic(twin.token))).payload.access).toEqual([{ type: 'repository', name: twinRepo, actions: ['pull', 'push'] }]);
  });

  it('a revoked key → 401, and credentials come before validation (an anonymous bad query is still 401)', async () => {
    expect((await realm(scopeQuery(`repository:${repo(a, appA)}:pull`), basic(keys.revoked.key))).statusCode).toBe(401);
    expect((await realm('service=elsewhere&scope=%%%', {})).statusCode).toBe(401);
  });

  it.each([
    ['an unknown service', 'service=registry.example.com', 'service'],
    ['no service', 'scope=repository:a/b:pull', 'service'],
    ['a malformed scope', `service=${SERVICE}&scope=repository:onlytwo`, 'scope'],
    ['a scope with an invalid name', `service=${SERVICE}&scope=${encodeURIComponent('repository:../etc:pull')}`, 'scope'],
    ['an oversized scope', `service=${SERVICE}&scope=repository:${'a'.repeat(600)}:pull`, 'scope'],
    ['too many scopes', [`service=${SERVICE}`, ...Array.from({ length: 17 }, (_, i) => `scope=repository:a/r${i}:pull`)].join('&'), 'scope'],
  ])('%s → 400 validation_failed naming the field', async (_name, query, field) => {
    const response = await realm(query, basic(keys.deploy.key));
    expect(response.statusCode, response.body).toBe(400);
    const problem = response.json() as Problem & { errors: Array<{ path: string }> };
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors.map((e) => e.path).join(' ')).toContain(field);
  });

  it('publishes a certificate per signing key, matching the JWKS keys', async () => {
    const response = await h.inject({ method: 'GET', url: '/.well-known/registry-certs.pem' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/x-pem-file/);
    const pems = response.body.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g) ?? [];
    const jwks = (await h.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: Array<{ kid: string; x: string; y: string }> };
    const ours = jwks.keys.filter((key) => key.kid.startsWith('sk_'));
    expect(pems).toHaveLength(ours.length);
    const certKeys = pems.map((pem) => {
      const cert = new X509Certificate(pem);
      expect(cert.verify(cert.publicKey)).toBe(true);
      return libtrustKeyId(cert.publicKey.export({ format: 'jwk' }));
    });
    expect(certKeys).toEqual(ours.map((key) => libtrustKeyId({ kty: 'EC', crv: 'P-256', x: key.x, y: key.y })));
    // The same bytes on every request of an instance (a registry may fetch it at any time).
    expect((await h.inject({ method: 'GET', url: '/.well-known/registry-certs.pem' })).body).toBe(response.body);
  });
});
