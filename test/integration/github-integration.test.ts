import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/**
 * GitHub integration (issue 3 item 9): one GitHub App installation per account, read with
 * clusters:read, connected and disconnected with clusters:write (seed: "Manage ... GitHub integration").
 */

const URL = '/integrations/github';

interface Integration {
  installation_id: number;
  repository: string;
  branch: string;
  dag_path: string;
  connected_by: string;
  created_at: string;
  updated_at: string;
}

const VALID = { installation_id: 41_234_567, repository: 'acme-data/airflow-dags', branch: 'main' };

describe(`GitHub integration (${TEST_DIALECT})`, () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  const put = (account: Account | { auth: Record<string, string> }, payload: unknown) =>
    h.inject({ method: 'PUT', url: URL, headers: account.auth, payload: payload as Record<string, unknown> });

  it('connects (201), reads, replaces (200, created_at kept) and disconnects (204, then 404)', async () => {
    const a = await h.newAccount();
    const none = await h.inject({ method: 'GET', url: URL, headers: a.auth });
    expect(none.statusCode).toBe(404);
    expect(none.headers['content-type']).toContain('application/problem+json');
    expect((none.json() as Problem).code).toBe('not_found');
    expect((none.json() as Problem).detail).toBe('No GitHub integration is connected to this account.');

    const created = await put(a, VALID);
    expect(created.statusCode).toBe(201);
    const first = created.json() as Integration;
    expect(first).toEqual({
      installation_id: 41_234_567,
      repository: 'acme-data/airflow-dags',
      branch: 'main',
      dag_path: 'dags/',
      connected_by: a.userId,
      created_at: first.created_at,
      updated_at: first.created_at,
    });
    expect(Date.parse(first.created_at)).not.toBeNaN();

    const read = await h.inject({ method: 'GET', url: URL, headers: a.auth });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(first);

    await new Promise((resolve) => setTimeout(resolve, 5));
    const replaced = await put(a, { installation_id: 9_007_199_254_740_991, repository: 'Other-Org/dags.repo', branch: 'release/2030.03', dag_path: 'airflow/dags' });
    expect(replaced.statusCode).toBe(200);
    const second = replaced.json() as Integration;
    expect(second).toMatchObject({
      installation_id: 9_007_199_254_740_991,
      repository: 'Other-Org/dags.repo',
      branch: 'release/2030.03',
      dag_path: 'airflow/dags',
      created_at: first.created_at,
    });
    expect(second.updated_at > first.updated_at).toBe(true);
    expect((await h.inject({ method: 'GET', url: URL, headers: a.auth })).json()).toEqual(second);

    const removed = await h.inject({ method: 'DELETE', url: URL, headers: a.auth });
    expect(removed.statusCode).toBe(204);
    expect(removed.body).toBe('');
    expect((await h.inject({ method: 'GET', url: URL, headers: a.auth })).statusCode).toBe(404);
    const again = await h.inject({ method: 'DELETE', url: URL, headers: a.auth });
    expect(again.statusCode).toBe(404);
    expect((again.json() as Problem).code).toBe('not_found');

    // Reconnecting after a disconnect is a new integration again.
    expect((await put(a, VALID)).statusCode).toBe(201);
  });

  it('keeps one row per account when two connects race (one 201, one 200)', async () => {
    const a = await h.newAccount();
    const results = await Promise.all([
      put(a, { ...VALID, branch: 'one' }),
      put(a, { ...VALID, branch: 'two' }),
      put(a, { ...VALID, branch: 'three' }),
    ]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 200, 201]);
    const rows = await h.deps.database.db.selectFrom('github_integrations').selectAll().where('account_id', '=', a.accountId).execute();
    expect(rows).toHaveLength(1);
    expect(['one', 'two', 'three']).toContain(rows[0]?.branch);
    expect(rows[0]?.installation_id).toBe('41234567');
  });

  it.each([
    ['installation_id', { installation_id: 0 }, 'installation_id: must be at least 1'],
    ['installation_id', { installation_id: -5 }, 'installation_id: must be at least 1'],
    ['installation_id', { installation_id: 1.5 }, 'installation_id: must be integer'],
    ['installation_id', { installation_id: '123' }, 'installation_id: must be integer'],
    ['installation_id', { installation_id: 9_007_199_254_740_992 }, 'installation_id: must be at most 9007199254740991'],
    ['repository', { repository: 'no-slash-here' }, 'repository: must be "owner/name"'],
    ['repository', { repository: '-bad/repo' }, 'repository: owner must be 1–39 letters, digits or single hyphens, and may not start or end with a hyphen'],
    ['repository', { repository: 'owner/..' }, 'repository: name may not be "." or ".."'],
    ['repository', { repository: 'o/'.padEnd(141, 'x') }, 'repository: must be at most 140 characters'],
    ['branch', { branch: 'feature..x' }, 'branch: must not contain ".."'],
    ['branch', { branch: 'main.lock' }, 'branch: each "/"-separated part must not end with ".lock"'],
    ['branch', { branch: 'has space' }, 'branch: must not contain spaces, control characters or any of ~ ^ : ? * [ \\'],
    ['branch', { branch: '' }, 'branch: must not be empty'],
    ['branch', { branch: 'b'.repeat(256) }, 'branch: must be at most 255 characters'],
    ['dag_path', { dag_path: '../secrets' }, 'dag_path: must not contain ".." segments'],
    ['dag_path', { dag_path: '/abs/dags' }, 'dag_path: must be relative to the repository root (no leading "/")'],
    ['dag_path', { dag_path: 'd'.repeat(256) }, 'dag_path: must be at most 255 characters'],
    ['unknown field', { owner: 'acme' }, 'owner: is not a known field'],
  ])('refuses a bad %s with 400 and stores nothing (%j)', async (_name, change, detail) => {
    const a = await h.newAccount();
    const response = await put(a, { ...VALID, ...change });
    expect(response.statusCode).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json() as Problem;
    expect(problem.code).toBe('validation_failed');
    expect(problem.detail).toBe(detail);
    expect((await h.inject({ method: 'GET', url: URL, headers: a.auth })).statusCode).toBe(404);
  });

  it('refuses a missing body or a missing field with 400', async () => {
    const a = await h.newAccount();
    const empty = await h.inject({ method: 'PUT', url: URL, headers: a.auth });
    expect(empty.statusCode).toBe(400);
    expect((empty.json() as Problem).code).toBe('validation_failed');
    const missing = await put(a, { installation_id: 1, repository: 'a/b' });
    expect(missing.statusCode).toBe(400);
    expect((missing.json() as Problem).detail).toBe('branch: is required');
  });

  it("never shows or touches another account's integration", async () => {
    const a = await h.newAccount();
    const b = await h.newAccount();
    expect((await put(a, VALID)).statusCode).toBe(201);
    const before = (await h.inject({ method: 'GET', url: URL, headers: a.auth })).json() as Integration;

    const bKey = await h.createKey(b, ['full']);
    for (const headers of [b.auth, bearer(bKey.key)]) {
      expect((await h.inject({ method: 'GET', url: URL, headers })).statusCode).toBe(404);
      expect((await h.inject({ method: 'DELETE', url: URL, headers })).statusCode).toBe(404);
    }
    // B connecting its own installation makes B's row, not a change to A's.
    expect((await put(b, { ...VALID, repository: 'b-org/b-dags' })).statusCode).toBe(201);
    expect((await h.inject({ method: 'GET', url: URL, headers: a.auth })).json()).toEqual(before);
    expect(((await h.inject({ method: 'GET', url: URL, headers: b.auth })).json() as Integration).repository).toBe('b-org/b-dags');
  });

  it('lets a clusters:read key read, and refuses it PUT and DELETE with the exact scope message', async () => {
    const a = await h.newAccount();
    expect((await put(a, VALID)).statusCode).toBe(201);
    const reader = await h.createKey(a, ['clusters:read']);
    const read = await h.inject({ method: 'GET', url: URL, headers: bearer(reader.key) });
    expect(read.statusCode).toBe(200);
    expect((read.json() as Integration).repository).toBe(VALID.repository);

    for (const method of ['PUT', 'DELETE'] as const) {
      const refused = await h.inject({ method, url: URL, headers: bearer(reader.key), ...(method === 'PUT' ? { payload: { ...VALID, branch: 'stolen' } } : {}) });
      expect(refused.statusCode).toBe(403);
      const problem = refused.json() as Problem;
      expect(problem.code).toBe('insufficient_scope');
      expect(problem.detail).toBe('API key missing required scope: clusters:write');
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="insufficient_scope", scope="clusters:write"');
    }
    // A key without clusters:read cannot even read it.
    const deployer = await h.createKey(a, ['apps:deploy']);
    const denied = await h.inject({ method: 'GET', url: URL, headers: bearer(deployer.key) });
    expect(denied.statusCode).toBe(403);
    expect((denied.json() as Problem).detail).toBe('API key missing required scope: clusters:read');
    expect(((await h.inject({ method: 'GET', url: URL, headers: a.auth })).json() as Integration).branch).toBe('main');
  });

  it('lets a clusters:write key connect, recording the key as connected_by', async () => {
    const a = await h.newAccount();
    const writer = await h.createKey(a, ['clusters:write']);
    const response = await put({ auth: bearer(writer.key) }, VALID);
    expect(response.statusCode).toBe(201);
    expect((response.json() as Integration).connected_by).toBe(writer.id);
    expect((await h.inject({ method: 'DELETE', url: URL, headers: bearer(writer.key) })).statusCode).toBe(204);
  });

  it('answers 401 without credentials', async () => {
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const response = await h.inject({ method, url: URL });
      expect(response.statusCode).toBe(401);
      expect((response.json() as Problem).code).toBe('unauthenticated');
    }
  });
});
