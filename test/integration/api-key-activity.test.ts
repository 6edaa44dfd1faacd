import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyActivityRepo } from '../../src/modules/api-keys/key-activity-repo.js';
import { createApp, firstDeploy, IMAGE_V2 } from '../helpers/apps-fixtures.js';
import { createCluster } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import type { Problem } from '../helpers/problem.js';
import {
  EXPECTED_ROUTES,
  expectedForKey,
  KEY_SCOPE_SETS,
  MISSING_IDS,
  pathIdKinds,
  routeKey,
  routeUrl,
  scopeNeeded,
  SEED_SCOPES,
  validBody,
  type ExpectedRoute,
  type Ids,
  type ScopeName,
} from './expected-routes.js';

/**
 * GET /api-keys/{id}/activity and /usage (CONTRACT §7, issue 12 items 2–3): what a key did, recorded
 * behind the requests (flushed here with app.keyActivity.flush(), never by waiting), and the smallest
 * scopes it needs. Suggestions are checked against the seed's table (expected-routes.ts), not src/.
 */

interface ActivityItem {
  id: string;
  at: string;
  kind: 'refused' | 'write' | 'reads';
  method: string;
  route: string;
  status: number;
  code: string | null;
  missing_scope: string | null;
  client_ip: string | null;
  user_agent: string | null;
  count: number;
  minute: string | null;
}

interface Counts {
  requests: number;
  succeeded: number;
  refused: number;
}

interface Usage {
  key_id: string;
  days: number;
  since: string;
  requests: number;
  routes: Array<Counts & { method: string; route: string; required_scope: string | null }>;
  scopes: Array<Counts & { scope: string }>;
  scopes_never_used: string[];
  suggested_scopes: string[];
  evidence: Array<{ scope: string; routes: string[] }>;
}

const UA = 'activity-test/1.0 (+https://example.com)';
const CLIENT = '198.51.100.7';

describe(`API key activity and usage (${TEST_DIALECT})`, () => {
  let h: Harness;
  const clock = new MovableClock();
  let a: Account;
  let b: Account;
  /** Real ids of account a (a running cluster, an app and its first deploy), for requests that succeed. */
  let ids: Ids;

  const flush = () => h.app.keyActivity.flush();
  const call = (key: string, method: string, url: string, extra: { payload?: unknown; headers?: Record<string, string> } = {}) =>
    h.inject({
      method: method as 'GET',
      url,
      headers: { ...bearer(key), 'user-agent': UA, ...extra.headers },
      remoteAddress: CLIENT,
      ...(extra.payload !== undefined ? { payload: extra.payload as Record<string, unknown> } : {}),
    });

  /** Every activity entry of a key, following the cursor, after writing what was noted. */
  async function activityOf(keyId: string, headers: Record<string, string>, query = ''): Promise<ActivityItem[]> {
    await flush();
    const items: ActivityItem[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams(query);
      if (cursor !== null) params.set('cursor', cursor);
      const response = await h.inject({ method: 'GET', url: `/api-keys/${keyId}/activity?${params.toString()}`, headers });
      expect(response.statusCode, response.body).toBe(200);
      const page = response.json() as { data: ActivityItem[]; next_cursor: string | null };
      items.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return items;
  }

  async function usageOf(keyId: string, headers: Record<string, string>, days?: number): Promise<Usage> {
    await flush();
    const response = await h.inject({ method: 'GET', url: `/api-keys/${keyId}/usage${days === undefined ? '' : `?days=${days}`}`, headers });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Usage;
  }

  /** The clock just past the start of a minute, so a test's reads all fall in one minute. */
  function startOfMinute(): void {
    const now = clock.now().getTime();
    clock.advance(60_000 - (now % 60_000) + 1_000);
  }

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, clock, env: { WEBHOOK_ALLOW_PRIVATE: 'on' } });
    [a, b] = await Promise.all([h.newAccount(), h.newAccount()]);
    const { clusterId, cloudId, jobId } = await createCluster(h, a, { wait: true });
    const app = await createApp(h, a, clusterId, { image: 'registry.example.com/team/etl:1.0.0' });
    const deploy = await firstDeploy(h, a, app.id);
    const key = await h.createKey(a, ['full']);
    const github = await h.inject({ method: 'PUT', url: '/integrations/github', headers: a.auth, payload: { installation_id: 12345, repository: 'acme/dags', branch: 'main', dag_path: 'dags/' } });
    expect(github.statusCode, github.body).toBeLessThan(300);
    // Subscribed to an event these tests never raise: only its id is used.
    const webhook = await h.inject({ method: 'POST', url: '/webhooks', headers: a.auth, payload: { url: 'http://127.0.0.1:9/hook', event_types: ['api_key.expiring'] } });
    expect(webhook.statusCode, webhook.body).toBe(201);
    const webhookId = (webhook.json() as { id: string }).id;
    ids = { ...MISSING_IDS, key: key.id, cloud: cloudId, cluster: clusterId, job: jobId, app: app.id, deploy: deploy.id, webhook: webhookId };
  });
  afterAll(async () => {
    await h?.close();
  });

  it('records each refusal of a recognised key: code, missing scope, route template, client address, user agent', async () => {
    const key = await h.createKey(a, ['clusters:read']);
    const fenced = await h.createKey(a, ['full'], { allowed_ips: ['203.0.113.0/24'] });
    expect((await call(key.key, 'GET', '/jobs')).statusCode).toBe(403);
    expect((await call(key.key, 'POST', `/clusters/${ids.cluster}/node-pools`, { payload: { name: 'p', instance_type: 'm6i.large', min_size: 1, max_size: 1, desired_size: 1 } })).statusCode).toBe(403);
    expect((await call(key.key, 'DELETE', `/api-keys/${key.id}`)).statusCode).toBe(403);
    expect((await call(fenced.key, 'GET', `/clusters/${ids.cluster}`)).statusCode).toBe(403);

    const entries = await activityOf(key.id, a.auth);
    expect(entries.map(({ kind, method, route, status, code, missing_scope, client_ip, user_agent, count }) => ({ kind, method, route, status, code, missing_scope, client_ip, user_agent, count }))).toEqual([
      { kind: 'refused', method: 'DELETE', route: '/api-keys/{id}', status: 403, code: 'user_session_required', missing_scope: null, client_ip: CLIENT, user_agent: UA, count: 1 },
      { kind: 'refused', method: 'POST', route: '/clusters/{id}/node-pools', status: 403, code: 'insufficient_scope', missing_scope: 'clusters:write', client_ip: CLIENT, user_agent: UA, count: 1 },
      { kind: 'refused', method: 'GET', route: '/jobs', status: 403, code: 'insufficient_scope', missing_scope: 'jobs:read', client_ip: CLIENT, user_agent: UA, count: 1 },
    ]);
    for (const entry of entries) {
      expect(entry.id).toMatch(/^act_[0-9A-Za-z]{25}$/);
      expect(entry.minute).toBeNull();
      expect(Math.abs(Date.parse(entry.at) - clock.now().getTime())).toBeLessThan(60_000);
    }
    const [fencedEntry] = await activityOf(fenced.id, a.auth);
    expect(fencedEntry).toMatchObject({ kind: 'refused', method: 'GET', route: '/clusters/{id}', status: 403, code: 'ip_not_allowed', missing_scope: null, client_ip: CLIENT });

    // A key limited to one cluster may not create another (CONTRACT §7 resources).
    const limited = await h.createKey(a, ['full'], { resources: { clusters: [ids.cluster] } });
    expect((await call(limited.key, 'POST', '/clusters', { payload: { name: 'outside', cloud_id: ids.cloud } })).statusCode).toBe(403);
    const [limitedEntry] = await activityOf(limited.id, a.auth);
    expect(limitedEntry).toMatchObject({ kind: 'refused', method: 'POST', route: '/clusters', status: 403, code: 'resource_not_allowed', missing_scope: null, client_ip: CLIENT, user_agent: UA });
  });

  it('attributes nothing to anyone for missing or invalid credentials, and records no user session', async () => {
    await flush();
    const rows = async () => Number((await h.deps.database.db.selectFrom('key_activity').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n);
    const before = await rows();
    const revoked = await h.createKey(a, ['full']);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${revoked.id}`, headers: a.auth })).statusCode).toBe(204);
    expect((await call(revoked.key, 'GET', '/clusters')).statusCode).toBe(401);
    expect((await call('skd_notakeyatallnotakeyatallnotakeyatall00', 'GET', '/clusters')).statusCode).toBe(401);
    expect((await h.inject({ method: 'GET', url: '/clusters' })).statusCode).toBe(401);
    expect((await h.inject({ method: 'GET', url: '/clusters', headers: a.auth })).statusCode).toBe(200);
    expect((await h.inject({ method: 'POST', url: '/clouds', headers: a.auth, payload: {} })).statusCode).toBe(400);
    await flush();
    expect(await rows()).toBe(before);
  });

  it('records each write with its status (and code when it failed)', async () => {
    const key = await h.createKey(a, ['full']);
    const created = await call(key.key, 'POST', '/clouds', { payload: { name: 'activity-cloud', provider: 'aws', region: 'us-east-1', credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' } } });
    expect(created.statusCode, created.body).toBe(201);
    const cloudId = (created.json() as { id: string }).id;
    expect((await call(key.key, 'PATCH', `/clouds/${cloudId}`, { payload: { name: 'renamed-cloud' } })).statusCode).toBe(200);
    expect((await call(key.key, 'POST', '/clouds', { payload: { name: 'x' } })).statusCode).toBe(400);
    expect((await call(key.key, 'DELETE', `/clouds/${cloudId}`)).statusCode).toBe(204);

    const entries = await activityOf(key.id, a.auth, 'kind=write');
    expect(entries.map(({ kind, method, route, status, code, client_ip, user_agent, count }) => ({ kind, method, route, status, code, client_ip, user_agent, count }))).toEqual([
      { kind: 'write', method: 'DELETE', route: '/clouds/{id}', status: 204, code: null, client_ip: CLIENT, user_agent: UA, count: 1 },
      { kind: 'write', method: 'POST', route: '/clouds', status: 400, code: 'validation_failed', client_ip: CLIENT, user_agent: UA, count: 1 },
      { kind: 'write', method: 'PATCH', route: '/clouds/{id}', status: 200, code: null, client_ip: CLIENT, user_agent: UA, count: 1 },
      { kind: 'write', method: 'POST', route: '/clouds', status: 201, code: null, client_ip: CLIENT, user_agent: UA, count: 1 },
    ]);
  });

  it('rolls reads up per minute, route and status, with their counts', async () => {
    const key = await h.createKey(a, ['clusters:read']);
    startOfMinute();
    const firstMinute = new Date(Math.floor(clock.now().getTime() / 60_000) * 60_000).toISOString();
    for (let i = 0; i < 3; i++) expect((await call(key.key, 'GET', `/clusters/${ids.cluster}`)).statusCode).toBe(200);
    for (let i = 0; i < 2; i++) expect((await call(key.key, 'GET', `/clusters/${MISSING_IDS.cluster}`)).statusCode).toBe(404);
    expect((await call(key.key, 'GET', '/clusters')).statusCode).toBe(200);
    // Written in between: the next reads of the same minute add to the same row.
    await flush();
    expect((await call(key.key, 'GET', '/clusters')).statusCode).toBe(200);
    clock.advance(60_000);
    const secondMinute = new Date(Date.parse(firstMinute) + 60_000).toISOString();
    for (let i = 0; i < 4; i++) expect((await call(key.key, 'GET', `/clusters/${ids.cluster}`)).statusCode).toBe(200);

    const entries = await activityOf(key.id, a.auth);
    const summary = entries.map(({ kind, minute, at, method, route, status, count, client_ip, user_agent, code }) => ({ kind, minute, at, method, route, status, count, client_ip, user_agent, code }));
    const reads = (minute: string, route: string, status: number, count: number) => ({ kind: 'reads', minute, at: minute, method: 'GET', route, status, count, client_ip: null, user_agent: null, code: null });
    expect(summary.slice(0, 1)).toEqual([reads(secondMinute, '/clusters/{id}', 200, 4)]);
    expect(new Set(summary.slice(1))).toEqual(
      new Set([reads(firstMinute, '/clusters/{id}', 200, 3), reads(firstMinute, '/clusters/{id}', 404, 2), reads(firstMinute, '/clusters', 200, 2)]),
    );
    expect(summary).toHaveLength(4);
    expect(await activityOf(key.id, a.auth, 'kind=refused')).toEqual([]);
  });

  it('pages newest first with a cursor, every entry once', async () => {
    const key = await h.createKey(a, ['apps:read']);
    for (let i = 0; i < 7; i++) expect((await call(key.key, 'GET', '/jobs', { headers: { 'user-agent': `pager/${i}` } })).statusCode).toBe(403);
    await flush();
    const first = await h.inject({ method: 'GET', url: `/api-keys/${key.id}/activity?limit=3`, headers: a.auth });
    const page = first.json() as { data: ActivityItem[]; next_cursor: string | null };
    expect(page.data.map((entry) => entry.user_agent)).toEqual(['pager/6', 'pager/5', 'pager/4']);
    expect(page.next_cursor).not.toBeNull();
    const all = await activityOf(key.id, a.auth, 'limit=3');
    expect(all.map((entry) => entry.user_agent)).toEqual(['pager/6', 'pager/5', 'pager/4', 'pager/3', 'pager/2', 'pager/1', 'pager/0']);
    expect(new Set(all.map((entry) => entry.id)).size).toBe(7);
    const bad = await h.inject({ method: 'GET', url: `/api-keys/${key.id}/activity?cursor=nonsense`, headers: a.auth });
    expect(bad.statusCode).toBe(400);
  });

  it("another account's key, or no key, is 404 for users and full keys alike; keys need full", async () => {
    const key = await h.createKey(a, ['full']);
    const bFull = await h.createKey(b, ['full']);
    const narrow = await h.createKey(a, ['clusters:read']);
    for (const path of ['activity', 'usage']) {
      for (const headers of [b.auth, bearer(bFull.key)]) {
        const foreign = await h.inject({ method: 'GET', url: `/api-keys/${key.id}/${path}`, headers });
        expect(foreign.statusCode).toBe(404);
        expect((foreign.json() as Problem).code).toBe('not_found');
      }
      expect((await h.inject({ method: 'GET', url: `/api-keys/${MISSING_IDS.key}/${path}`, headers: a.auth })).statusCode).toBe(404);
      expect((await h.inject({ method: 'GET', url: `/api-keys/${key.id}/${path}`, headers: bearer(key.key) })).statusCode).toBe(200);
      const refused = await h.inject({ method: 'GET', url: `/api-keys/${key.id}/${path}`, headers: bearer(narrow.key) });
      expect(refused.statusCode).toBe(403);
      expect((refused.json() as Problem).detail).toBe('API key missing required scope: full');
    }
  });

  it('usage: counts per route and scope, scopes never used, and the scopes the successful requests needed', async () => {
    const key = await h.createKey(a, ['clusters:read', 'apps:read', 'jobs:read']);
    for (let i = 0; i < 2; i++) expect((await call(key.key, 'GET', '/clusters')).statusCode).toBe(200);
    expect((await call(key.key, 'GET', `/jobs/${ids.job}`)).statusCode).toBe(200);
    expect((await call(key.key, 'GET', `/jobs/${MISSING_IDS.job}`)).statusCode).toBe(404);
    expect((await call(key.key, 'POST', '/clusters', { payload: { name: 'nope', cloud_id: ids.cloud } })).statusCode).toBe(403);
    expect((await call(key.key, 'GET', '/me')).statusCode).toBe(200);

    const usage = await usageOf(key.id, a.auth);
    expect(usage).toMatchObject({ key_id: key.id, days: 30, requests: 6 });
    expect(Date.parse(usage.since)).toBeCloseTo(clock.now().getTime() - 30 * 86_400_000, -5);
    expect(new Set(usage.routes)).toEqual(
      new Set([
        { method: 'GET', route: '/clusters', required_scope: 'clusters:read', requests: 2, succeeded: 2, refused: 0 },
        { method: 'GET', route: '/jobs/{id}', required_scope: 'jobs:read', requests: 2, succeeded: 1, refused: 0 },
        { method: 'POST', route: '/clusters', required_scope: 'clusters:write', requests: 1, succeeded: 0, refused: 1 },
        { method: 'GET', route: '/me', required_scope: null, requests: 1, succeeded: 1, refused: 0 },
      ]),
    );
    expect(usage.scopes).toEqual([
      { scope: 'clusters:read', requests: 2, succeeded: 2, refused: 0 },
      { scope: 'clusters:write', requests: 1, succeeded: 0, refused: 1 },
      { scope: 'jobs:read', requests: 2, succeeded: 1, refused: 0 },
    ]);
    expect(usage.scopes_never_used).toEqual(['apps:read']);
    expect(usage.suggested_scopes).toEqual(['clusters:read', 'jobs:read']);
    expect(usage.evidence).toEqual([
      { scope: 'clusters:read', routes: ['GET /clusters'] },
      { scope: 'jobs:read', routes: ['GET /jobs/{id}'] },
    ]);
    expect((await usageOf(key.id, a.auth, 1)).requests).toBe(6);
    for (const days of ['0', '31', 'x']) {
      expect((await h.inject({ method: 'GET', url: `/api-keys/${key.id}/usage?days=${days}`, headers: a.auth })).statusCode).toBe(400);
    }
  });

  it('a full key that only deployed is told apps:deploy; a key with no successful request gets []', async () => {
    const deployer = await h.createKey(a, ['full']);
    const response = await call(deployer.key, 'POST', `/apps/${ids.app}/deploys`, { payload: { image: IMAGE_V2 } });
    expect(response.statusCode, response.body).toBe(202);
    const usage = await usageOf(deployer.id, a.auth);
    expect(usage.suggested_scopes).toEqual(['apps:deploy']);
    expect(usage.evidence).toEqual([{ scope: 'apps:deploy', routes: ['POST /apps/{id}/deploys'] }]);
    expect(usage.scopes_never_used).toEqual([]);

    const idle = await h.createKey(a, ['apps:read', 'jobs:read']);
    expect((await call(idle.key, 'GET', '/clusters')).statusCode).toBe(403);
    const idleUsage = await usageOf(idle.id, a.auth);
    expect(idleUsage).toMatchObject({ requests: 1, suggested_scopes: [], evidence: [], scopes_never_used: ['apps:read', 'jobs:read'] });
    expect((await usageOf((await h.createKey(a, ['full'])).id, a.auth)).suggested_scopes).toEqual([]);
  });

  describe('suggestions match the seed table', () => {
    const REPEATABLE_WRITES = new Set(['PATCH /clouds/{id}', 'PATCH /clusters/{id}', 'PATCH /apps/{id}', 'POST /clusters/{id}/terminal']);

    /** Routes of the table a request with account a's ids answers successfully (no pool or pod to name). */
    const probes = (): ExpectedRoute[] =>
      EXPECTED_ROUTES.filter((route) => {
        if (scopeNeeded(route.auth) === null && route.auth !== 'any principal') return false;
        if (pathIdKinds(route.path).some((kind) => kind === 'pool' || kind === 'pod')) return false;
        // Reads, and for the scopes that only write, a write that can be repeated without side effects
        // on the rest of this file (renames to one name, a terminal session).
        return route.method === 'GET' || REPEATABLE_WRITES.has(routeKey(route.method, route.path));
      });

    /** The least privilege the seed implies for these routes: the union of their scopes, `full` absorbing the rest. */
    function expectedSuggestion(routes: readonly ExpectedRoute[]): string[] {
      const needed = new Set(routes.map((route) => scopeNeeded(route.auth)).filter((scope): scope is ScopeName => scope !== null));
      return needed.has('full') ? ['full'] : [...needed].sort();
    }

    it.each(KEY_SCOPE_SETS.map((set) => [set.name, set.scopes] as const))('%s: a full key calling what %s allows is suggested exactly that', async (_name, scopes) => {
      const allowed = probes().filter((route) => expectedForKey(route.auth, scopes).allowed);
      // The probes reach every scope of the combination: calling all it allows needs exactly its scopes.
      expect(expectedSuggestion(allowed)).toEqual([...scopes].sort());
      const key = await h.createKey(a, ['full']);
      for (const route of allowed) {
        const body = validBody(route, ids);
        const response = await h.inject({ method: route.method, url: routeUrl(route, ids), headers: { ...bearer(key.key), ...body?.headers }, ...(body ? { payload: body.payload } : {}) });
        expect(response.statusCode, `${route.method} ${route.path}: ${response.body}`).toBeLessThan(400);
      }
      const usage = await usageOf(key.id, a.auth);
      expect([...usage.suggested_scopes].sort()).toEqual(expectedSuggestion(allowed));
      // Every suggested scope names its routes, and they are exactly the called routes that needed it.
      for (const { scope, routes } of usage.evidence) {
        const expected = allowed.filter((route) => scopeNeeded(route.auth) === scope).map((route) => routeKey(route.method, route.path));
        expect([...routes].sort()).toEqual(expected.sort());
      }
      // The suggestion never exceeds what the combination holds (the seed's rule, from expected-routes.ts).
      for (const scope of usage.suggested_scopes) expect(scopes.includes('full') || scopes.includes(scope as ScopeName)).toBe(true);
      expect(SEED_SCOPES).toEqual(expect.arrayContaining(usage.suggested_scopes));
    });
  });

  it('keeps 30 days: older entries leave the list and the window, and the purge deletes them', async () => {
    const key = await h.createKey(a, ['full']);
    expect((await call(key.key, 'GET', '/clusters')).statusCode).toBe(200);
    expect((await call(key.key, 'POST', '/clouds', { payload: {} })).statusCode).toBe(400);
    expect(await activityOf(key.id, bearer(key.key))).toHaveLength(2);
    clock.advance(31 * 86_400_000);
    expect(await activityOf(key.id, bearer(key.key))).toEqual([]);
    expect((await usageOf(key.id, bearer(key.key))).routes.map((route) => route.route)).toEqual(['/api-keys/{id}/activity']);

    const db = h.deps.database.db;
    const old = () => db.selectFrom('key_activity').select('id').where('key_id', '=', key.id).where('at', '<', new Date(clock.now().getTime() - 30 * 86_400_000).toISOString()).execute();
    // The read, the write, and the first list of the activity.
    expect(await old()).toHaveLength(3);
    // The recorder's purge (it runs at start and hourly), run now.
    await createKeyActivityRepo(db).purgeBefore(new Date(clock.now().getTime() - 30 * 86_400_000).toISOString());
    expect(await old()).toHaveLength(0);
  });
});
