import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';

// CONTRACT §2: credentials (401) → user-only (403) → scope (403) → validation (400) → lookup (404), on every path.
describe(`decision order on awkward requests (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  let jobsReader: string;
  let clustersWriter: string;
  let full: string;
  beforeAll(async () => {
    h = await startHarness();
    account = await h.newAccount();
    jobsReader = (await h.createKey(account, ['jobs:read'])).key;
    clustersWriter = (await h.createKey(account, ['clusters:write'])).key;
    full = (await h.createKey(account, ['full'])).key;
  });
  afterAll(async () => h.close());

  const send = (method: 'GET' | 'POST' | 'DELETE', url: string, token?: string, payload?: Record<string, unknown>) =>
    h.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(payload === undefined ? {} : { payload }) });

  it('answers a malformed URL without credentials with 401, not 400', async () => {
    const response = await send('GET', '/clusters/%zz');
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'unauthenticated' });
    expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata"');
    expect((await send('GET', '/clusters/%zz', 'skd_notakey')).json()).toMatchObject({ code: 'invalid_token' });
    expect((await send('GET', '/clusters/%zz', full)).json()).toMatchObject({ code: 'validation_failed', status: 400 });
  });

  it('refuses a key without the scope before it looks at an over-long id', async () => {
    const long = 'x'.repeat(201);
    const refused = await send('DELETE', `/clusters/${long}`, jobsReader);
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'insufficient_scope', detail: 'API key missing required scope: clusters:write' });
    const allowed = await send('DELETE', `/clusters/${long}`, clustersWriter);
    expect(allowed.statusCode).toBe(400);
    expect(allowed.json()).toMatchObject({ code: 'validation_failed', errors: [{ path: 'path.id' }] });
  });

  it('refuses a key without the scope before it validates the body', async () => {
    const response = await send('POST', '/clusters', jobsReader, { nonsense: true });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'insufficient_scope' });
  });

  it('refuses every key on a user-only route before it validates the body', async () => {
    const response = await send('POST', '/api-keys', full, { scopes: 'not-a-list' });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'user_session_required' });
  });
});
