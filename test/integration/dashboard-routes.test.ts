import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createRuntimeDeps, type RuntimeDeps } from '../../src/deps.js';
import { startHarness, TEST_DIALECT, type Harness } from '../helpers/harness.js';
import { createScratchDatabase, type ScratchDatabase } from '../helpers/database.js';
import { expectProblem } from '../helpers/problem.js';

/**
 * The dashboard's server side (issue 15): the page and its files at `/`, and the development sign-in,
 * which exists only while the local development issuer is on and answers only this machine.
 */
const ASSETS = path.resolve(import.meta.dirname, '../../dist/dashboard/assets');

describe(`dashboard routes, development issuer on (${TEST_DIALECT})`, () => {
  let scratch: ScratchDatabase;
  let deps: RuntimeDeps;
  let app: App;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    // No CLERK_JWT_KEY: the embedded default's mode (PostgreSQL asks for it by name).
    const config = loadConfig({ DATABASE_URL: scratch.url, DATA_DIR: scratch.dataDir, LOG_LEVEL: 'silent', AUTH_FAILURE_LIMIT: 'off', DEV_ISSUER: 'on' });
    deps = await createRuntimeDeps(config, { runJobs: false });
    app = await buildApp(deps);
  });
  afterAll(async () => {
    await app?.close();
    await deps?.database.close();
    await scratch?.drop();
  });

  const signIn = (payload: unknown, remoteAddress = '127.0.0.1') => app.inject({ method: 'POST', url: '/dev/sign-in', payload: payload as object, remoteAddress });

  it('signs in by email: a session token for the same user `skaledata dev-token` would give, in the personal account', async () => {
    const response = await signIn({ email: 'Grace@Example.com' });
    expect(response.statusCode).toBe(201);
    const body = response.json() as { token: string; user_id: string; expires_at: string; org_id: string | null };
    const expectedUser = `user_dev_${createHash('sha256').update('grace@example.com').digest('hex').slice(0, 24)}`;
    expect(body.user_id).toBe(expectedUser);
    expect(body.org_id).toBeNull();
    const lifetime = Date.parse(body.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(3500_000);
    expect(lifetime).toBeLessThanOrEqual(3600_000);
    const me = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${body.token}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ type: 'user', user_id: expectedUser, account_id: expectedUser, email: 'Grace@Example.com', org_id: null });
    // A user session can do what only users may: create a key.
    const key = await app.inject({ method: 'POST', url: '/api-keys', headers: { authorization: `Bearer ${body.token}` }, payload: { name: 'from-dev-sign-in' } });
    expect(key.statusCode).toBe(201);
  });

  it('acts in an organisation when asked', async () => {
    const response = await signIn({ email: 'ops@example.com', org_id: 'org_acme' });
    expect(response.statusCode).toBe(201);
    const me = await app.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${(response.json() as { token: string }).token}` } });
    expect(me.json()).toMatchObject({ account_id: 'org_acme', org_id: 'org_acme' });
  });

  it.each([
    ['no email', {}, 'email'],
    ['not an email', { email: 'nobody' }, 'email'],
    ['an org id that is not one', { email: 'a@example.com', org_id: 'acme' }, 'org_id'],
    ['an unknown field', { email: 'a@example.com', user_id: 'user_admin' }, 'user_id'],
  ])('refuses %s with 400 naming the field', async (_name, payload, field) => {
    const body = expectProblem(await signIn(payload), 400, 'validation_failed');
    expect(JSON.stringify(body.errors)).toContain(field);
    expect(JSON.stringify(body)).not.toContain('eyJ');
  });

  it.each(['10.0.0.7', '192.0.2.10', '::ffff:203.0.113.5', '2001:db8::1'])('answers only this machine: %s gets 403 and no token', async (address) => {
    const response = await signIn({ email: 'far@example.com' }, address);
    const body = expectProblem(response, 403, 'ip_not_allowed');
    expect(body.detail).toBe('Development sign-in answers only requests from this machine (loopback).');
    expect(response.body).not.toContain('eyJ');
  });

  it.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])('answers loopback address %s', async (address) => {
    expect((await signIn({ email: 'near@example.com' }, address)).statusCode).toBe(201);
  });

  it('serves the page at / under a strict CSP, never cached, and its hashed files cached for a year', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-store');
    const csp = String(page.headers['content-security-policy']);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) expect(csp).toContain(directive);
    expect(csp).not.toMatch(/unsafe-|https?:|\*/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    // Every file the page names is served, as the type its name says.
    const named = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1] ?? '');
    expect(named.length).toBeGreaterThanOrEqual(2);
    for (const url of named) {
      const file = await app.inject({ method: 'GET', url });
      expect(file.statusCode, url).toBe(200);
      expect(file.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(file.headers['content-type']).toMatch(url.endsWith('.js') ? /javascript/ : /text\/css/);
    }
    expect(readdirSync(ASSETS).length).toBe(named.length);
  });

  it.each([
    ['/assets/missing-0000.js', 404, 'not_found'],
    ['/assets/..%2Fpackage.json', 400, 'validation_failed'],
    ['/assets/%2E%2E%2F%2E%2E%2Fpackage.json', 400, 'validation_failed'],
    ['/assets/.env', 400, 'validation_failed'],
    ['/assets/index.html', 400, 'validation_failed'],
  ] as const)('GET %s answers %i problem+json and no file from outside the assets', async (url, status, code) => {
    const response = await app.inject({ method: 'GET', url });
    expectProblem(response, status, code);
    expect(response.body).not.toContain('"dependencies"');
  });
});

describe(`dashboard routes, Clerk sessions (${TEST_DIALECT})`, () => {
  let h: Harness;
  beforeAll(async () => (h = await startHarness()));
  afterAll(async () => h?.close());

  it('has no development sign-in: 404 as for any path that does not exist', async () => {
    const response = await h.inject({ method: 'POST', url: '/dev/sign-in', payload: { email: 'a@example.com' } });
    expectProblem(response, 404, 'not_found');
  });

  it('still serves the page (its sign-in says to use Clerk)', async () => {
    expect((await h.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
  });
});
