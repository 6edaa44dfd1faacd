import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Harness } from '../helpers/harness.js';

describe(`smoke (${TEST_DIALECT})`, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
  });
  afterAll(async () => h.close());

  it('serves /healthz and a user reaches /me', async () => {
    expect((await h.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const account = await h.newAccount();
    const me = await h.inject({ method: 'GET', url: '/me', headers: account.auth });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ type: 'user', user_id: account.userId, account_id: account.accountId });
  });

  it('publishes the scope catalogue with the endpoints each scope unlocks', async () => {
    const body = (await h.inject({ method: 'GET', url: '/scopes' })).json() as {
      data: Array<{ name: string; endpoints: string[] }>;
      user_only_endpoints: string[];
    };
    const byName = new Map(body.data.map((entry) => [entry.name, entry.endpoints]));
    expect(byName.get('clusters:write')).toContain('DELETE /clusters/{id}');
    expect(byName.get('clusters:read')).not.toContain('DELETE /clusters/{id}');
    expect(byName.get('jobs:read')).toEqual(['GET /jobs', 'GET /jobs/{id}']);
    expect(byName.get('full')).not.toContain('POST /api-keys');
    expect(body.user_only_endpoints.sort()).toEqual([
      'DELETE /api-keys/{id}',
      'PATCH /api-keys/{id}',
      'POST /api-keys',
      'POST /api-keys/{id}/roll',
      'POST /billing/portal-session',
      'POST /billing/subscription',
      'POST /clusters/{id}/data-plane-token',
      // CONTRACT §7 (issue 13): adding, removing and testing webhook endpoints.
      'DELETE /webhooks/{id}',
      'POST /webhooks',
      'POST /webhooks/{id}/test',
    ].sort());
  });

  it('creates a cluster that reaches running', async () => {
    const account = await h.newAccount();
    const { clusterId } = await createCluster(h, account, { wait: true });
    const cluster = await h.inject({ method: 'GET', url: `/clusters/${clusterId}`, headers: account.auth });
    expect(cluster.json()).toMatchObject({ status: 'running', active_job_id: null });
  });
});
