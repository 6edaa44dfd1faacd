import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { registryRepository } from '../../src/modules/registry/registry-service.js';
import { createCloud, createCluster, waitForJob } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { missingIds, normalised, sendRoute, stableHeaders } from '../helpers/route-requests.js';
import { EXPECTED_ROUTES, expectedForKey, hasPathParameters, routeKey, type ExpectedRoute, type Ids } from './expected-routes.js';

/**
 * `resources` on an API key (CONTRACT §7, issue 12): a key limited to some clusters and apps sees nothing
 * else of its own account. Another resource answers exactly like a missing id (404, same body, same
 * headers), lists hold only what it may see (in SQL: pages stay full and cursors exact), and what would
 * create or change account-wide things is refused with 403 resource_not_allowed.
 *
 * What each route family should do is written here from the contract, not read from src/: a wrong rule in
 * auth/resource-fence.ts fails these tests.
 */

type Headers = Record<string, string>;

/** How a fenced key is answered on a route with ids outside its list (CONTRACT §7 table, restated). */
function expectedOutside(route: ExpectedRoute): 'hidden' | 'refused' | 'unfenced' {
  const family = route.path.split('/')[1];
  // "creating a new top-level resource → 403"; a cloud's credentials are shared by every cluster on it.
  if (family === 'clouds' && route.method !== 'GET') return 'refused';
  // The account's keys (their own lists name resources outside the fence) and its billing, reads included.
  if (family === 'api-keys' || family === 'billing') return 'refused';
  if (family === 'clusters' || family === 'apps' || family === 'jobs' || family === 'clouds') return 'hidden';
  // The caller itself (/me, /scopes).
  return 'unfenced';
}


describe(`API keys limited to some resources (${TEST_DIALECT})`, () => {
  let h: Harness;
  let a: Account;
  let other: Account;
  /** The estate the fenced key is given (cluster "inside"), and one of the same account it is not. */
  let inside: Ids;
  let outside: Ids;
  /** An app on the outside cluster, given to the app-only key. */
  let loneApp: string;
  let clusterKey: { id: string; key: string };
  let appKey: { id: string; key: string };
  let otherCluster: string;

  async function buildEstate(label: string): Promise<Ids> {
    const cloud = await createCloud(h, a, `${label}-cloud`);
    const { clusterId, jobId } = await createCluster(h, a, { cloudId: cloud, name: `${label}-cluster`, wait: true });
    const pool = await h.inject({
      method: 'POST',
      url: `/clusters/${clusterId}/node-pools`,
      headers: a.auth,
      payload: { name: `${label}-pool`, instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 1 },
    });
    expect(pool.statusCode, pool.body).toBe(202);
    const accepted = pool.json() as { node_pool: { id: string }; job: { id: string } };
    expect((await waitForJob(h, a, accepted.job.id)).status).toBe('succeeded');
    const pods = await h.inject({ method: 'GET', url: `/clusters/${clusterId}/pods`, headers: a.auth });
    const podName = (pods.json() as { data: Array<{ name: string }> }).data[0]?.name;
    if (podName === undefined) throw new Error('the running cluster lists no pods');
    const app = await h.inject({
      method: 'POST',
      url: '/apps',
      headers: a.auth,
      payload: { name: `${label}-etl`, cluster_id: clusterId, type: 'airflow', image: `registry.example.com/${label}/etl:v1` },
    });
    expect(app.statusCode, app.body).toBe(201);
    const appId = (app.json() as { id: string }).id;
    const deploys = await h.inject({ method: 'GET', url: `/apps/${appId}/deploys`, headers: a.auth });
    const deploy = (deploys.json() as { data: Array<{ id: string; job_id: string }> }).data[0];
    if (deploy === undefined) throw new Error('the new app has no first deploy');
    expect((await waitForJob(h, a, deploy.job_id)).status).toBe('succeeded');
    return { key: newId('apiKey'), cloud, cluster: clusterId, pool: accepted.node_pool.id, pod: podName, job: jobId, app: appId, deploy: deploy.id, webhook: newId('webhook') };
  }

  const get = (url: string, headers: Headers) => h.inject({ method: 'GET', url, headers });
  const send = (route: ExpectedRoute, ids: Ids, headers: Headers) => sendRoute(h, route, ids, headers);


  /** Every row of the outside estate's tables: what the fenced key's attempts must leave as they were. */
  async function snapshot(): Promise<string> {
    const db = h.deps.database.db;
    const tables = ['clouds', 'clusters', 'node_pools', 'apps', 'deploys', 'dag_bundles', 'terminal_sessions', 'github_integrations'] as const;
    const rows = await Promise.all(tables.map((table) => db.selectFrom(table as 'clouds').selectAll().where('account_id', '=', a.accountId).execute()));
    const jobs = await db.selectFrom('jobs').select(['id', 'status']).where('account_id', '=', a.accountId).execute();
    return JSON.stringify([rows, jobs.map((job) => job.id).sort()]);
  }

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    a = await h.newAccount();
    other = await h.newAccount();
    inside = await buildEstate('inside');
    outside = await buildEstate('outside');
    const lone = await h.inject({ method: 'POST', url: '/apps', headers: a.auth, payload: { name: 'lone-svc', cluster_id: outside.cluster, type: 'service' } });
    expect(lone.statusCode, lone.body).toBe(201);
    loneApp = (lone.json() as { id: string }).id;
    clusterKey = await h.createKey(a, ['full'], { resources: { clusters: [inside.cluster] } });
    appKey = await h.createKey(a, ['full'], { resources: { apps: [loneApp] } });
    const otherCloud = await createCloud(h, other, 'other-cloud');
    otherCluster = (await createCluster(h, other, { cloudId: otherCloud, name: 'other-cluster', wait: false })).clusterId;
  }, 90_000);

  afterAll(async () => h?.close());

  describe('a key limited to one cluster, on every route with an id (table-driven from expected-routes.ts)', () => {
    const fenced = EXPECTED_ROUTES.filter((route) => hasPathParameters(route) && expectedForKey(route.auth, ['full']).allowed && expectedOutside(route) !== 'unfenced');

    it.each(fenced.map((route) => [routeKey(route.method, route.path), route] as const))('%s: the outside ids answer as the route says, nothing changes', async (name, route) => {
      const headers = bearer(clusterKey.key);
      const before = await snapshot();
      const missing = missingIds();
      const foreign = await send(route, outside, headers);
      if (expectedOutside(route) === 'refused') {
        expect(foreign.statusCode, `${name} ${foreign.body}`).toBe(403);
        expect((foreign.json() as Problem).code).toBe('resource_not_allowed');
      } else {
        const absent = await send(route, missing, headers);
        expect(foreign.statusCode, `${name} ${foreign.body}`).toBe(404);
        expect(absent.statusCode, `${name} ${absent.body}`).toBe(404);
        // No oracle: a resource outside the list and one that does not exist are answered alike.
        expect(normalised(foreign, [outside, missing])).toEqual(normalised(absent, [outside, missing]));
        expect(stableHeaders(foreign)).toEqual(stableHeaders(absent));
      }
      expect(await snapshot()).toBe(before);
    });

    const reads = fenced.filter((route) => route.method === 'GET' && expectedOutside(route) === 'hidden');
    it.each(reads.map((route) => [routeKey(route.method, route.path), route] as const))('%s: the inside ids are served', async (name, route) => {
      const response = await send(route, inside, bearer(clusterKey.key));
      // Clouds of a listed cluster are readable; everything on the cluster is.
      expect(response.statusCode, `${name} ${response.body}`).toBeLessThan(400);
    });
  });

  describe('a key limited to one app', () => {
    const appRoutes = EXPECTED_ROUTES.filter((route) => route.method === 'GET' && route.path.startsWith('/apps/{id}') && !route.path.includes('{deploy}'));

    it.each(appRoutes.map((route) => [routeKey(route.method, route.path), route] as const))('%s: its app is served, the app beside it on the same cluster is not', async (name, route) => {
      const headers = bearer(appKey.key);
      const own = await send(route, { ...outside, app: loneApp }, headers);
      expect(own.statusCode, `${name} ${own.body}`).toBeLessThan(400);
      const beside = await send(route, outside, headers);
      expect(beside.statusCode, `${name} ${beside.body}`).toBe(404);
    });

    it("deploys from our registry only its own app's repository, never that of an app it cannot see", async () => {
      const service = h.deps.config.registryService;
      const headers = bearer(appKey.key);
      const lone = (await get(`/apps/${loneApp}`, a.auth)).json() as { name: string };
      const beside = (await get(`/apps/${outside.app}`, a.auth)).json() as { name: string };
      const before = await snapshot();
      const foreign = await h.inject({ method: 'POST', url: `/apps/${loneApp}/deploys`, headers, payload: { image: `${service}/${registryRepository(a.accountId, beside.name)}:latest` } });
      expect(foreign.statusCode, foreign.body).toBe(400);
      expect((foreign.json() as Problem & { errors: Array<{ path: string }> }).errors.map((error) => error.path)).toEqual(['image']);
      expect(await snapshot()).toBe(before);
      const own = await h.inject({ method: 'POST', url: `/apps/${loneApp}/deploys`, headers, payload: { image: `${service}/${registryRepository(a.accountId, lone.name)}:v2` } });
      expect([202, 409], own.body).toContain(own.statusCode);
      if (own.statusCode === 202) await waitForJob(h, a, (own.json() as { job: { id: string } }).job.id);
      // The whole-account key of the same account may still deploy any of the account's images.
      const whole = await h.createKey(a, ['apps:deploy']);
      const any = await h.inject({ method: 'POST', url: `/apps/${loneApp}/deploys`, headers: bearer(whole.key), payload: { image: `${service}/${registryRepository(a.accountId, beside.name)}:latest` } });
      expect(any.statusCode, any.body).not.toBe(400);
      if (any.statusCode === 202) await waitForJob(h, a, (any.json() as { job: { id: string } }).job.id);
    });

    it('sees no cluster, no cloud, and only its own app and jobs in lists', async () => {
      const headers = bearer(appKey.key);
      expect((await get('/clusters', headers)).json()).toMatchObject({ data: [] });
      expect((await get('/clouds', headers)).json()).toMatchObject({ data: [] });
      const apps = (await get('/apps', headers)).json() as { data: Array<{ id: string }> };
      expect(apps.data.map((app) => app.id)).toEqual([loneApp]);
      expect((await get(`/clusters/${outside.cluster}`, headers)).statusCode).toBe(404);
      const restart = await h.inject({ method: 'POST', url: `/apps/${loneApp}/restart`, headers });
      // Restarting is a write on its own app: allowed (the simulated driver may find it not running: 409).
      expect([202, 409]).toContain(restart.statusCode);
      // Its job must be over before later tests compare snapshots of the account.
      if (restart.statusCode === 202) await waitForJob(h, a, (restart.json() as { job: { id: string } }).job.id);
      const jobs = (await get('/jobs?limit=100', headers)).json() as { data: Array<{ resource_type: string; resource_id: string }> };
      for (const job of jobs.data) expect(job).toMatchObject({ resource_type: 'app', resource_id: loneApp });
    });
  });

  describe('lists hold only what the key may see, filtered before paging', () => {
    it.each(['/clusters', '/apps', '/jobs', '/clouds'])('%s: a limit-1 walk returns exactly the full list, all inside', async (path) => {
      const headers = bearer(clusterKey.key);
      const whole = (await get(`${path}?limit=100`, headers)).json() as { data: Array<Record<string, unknown>> };
      const everything = (await get(`${path}?limit=100`, a.auth)).json() as { data: Array<Record<string, unknown>> };
      expect(whole.data.length).toBeGreaterThan(0);
      expect(whole.data.length).toBeLessThan(everything.data.length);
      const walked: unknown[] = [];
      let cursor: string | null = null;
      do {
        const page = (await get(`${path}?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers)).json() as { data: unknown[]; next_cursor: string | null };
        // Never an empty page before the end: the filter is in the query, not applied after it.
        if (page.next_cursor !== null) expect(page.data).toHaveLength(1);
        walked.push(...page.data);
        cursor = page.next_cursor;
      } while (cursor !== null);
      expect(walked).toEqual(whole.data);
      for (const item of whole.data) {
        if (path === '/clusters') expect(item.id).toBe(inside.cluster);
        if (path === '/apps') expect(item.cluster_id).toBe(inside.cluster);
        if (path === '/jobs') expect(item.cluster_id).toBe(inside.cluster);
        if (path === '/clouds') expect(item.id).toBe(inside.cloud);
      }
    });
  });

  describe('creating or changing what the account shares', () => {
    const refusedWrites: Array<[string, string, Record<string, unknown>]> = [
      ['POST', '/clusters', { name: 'sneaky', cloud_id: 'CLOUD' }],
      ['POST', '/clouds', { name: 'sneaky', provider: 'aws', region: 'us-east-1', credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' } }],
      ['PUT', '/integrations/github', { installation_id: 1, repository: 'acme/dags', branch: 'main', dag_path: 'dags/' }],
      ['DELETE', '/integrations/github', {}],
      ['POST', '/apps', { name: 'sneaky-app', cluster_id: 'OUTSIDE', type: 'service' }],
    ];

    it.each(refusedWrites)('%s %s → 403 resource_not_allowed, nothing stored', async (method, url, payload) => {
      const before = await snapshot();
      const body = JSON.parse(JSON.stringify(payload).replace('CLOUD', inside.cloud).replace('OUTSIDE', outside.cluster)) as Record<string, unknown>;
      const response = await h.inject({ method: method as 'POST', url, headers: bearer(clusterKey.key), ...(method === 'DELETE' ? {} : { payload: body }) });
      expect(response.statusCode, response.body).toBe(403);
      const problem = response.json() as Problem;
      expect(problem.code).toBe('resource_not_allowed');
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(await snapshot()).toBe(before);
    });

    it.each(['/api-keys', '/billing'])('GET %s (the account keys name other resources; billing counts every cluster) → 403 resource_not_allowed', async (url) => {
      const response = await get(url, bearer(clusterKey.key));
      expect(response.statusCode, response.body).toBe(403);
      expect((response.json() as Problem).code).toBe('resource_not_allowed');
      expect(response.body).not.toContain(outside.cluster);
    });

    it('an account-wide write is refused before its body is read (a malformed one too)', async () => {
      const response = await h.inject({ method: 'POST', url: '/clusters', headers: { ...bearer(clusterKey.key), 'content-type': 'application/json' }, payload: '{"name": ' });
      expect(response.statusCode, response.body).toBe(403);
      expect((response.json() as Problem).code).toBe('resource_not_allowed');
    });

    it('an app on a listed cluster can be created, and the new app is then inside the fence', async () => {
      const created = await h.inject({ method: 'POST', url: '/apps', headers: bearer(clusterKey.key), payload: { name: 'fenced-new', cluster_id: inside.cluster, type: 'service' } });
      expect(created.statusCode, created.body).toBe(201);
      const id = (created.json() as { id: string }).id;
      expect((await get(`/apps/${id}`, bearer(clusterKey.key))).statusCode).toBe(200);
      expect((await get(`/apps/${id}`, bearer(appKey.key))).statusCode).toBe(404);
    });
  });

  describe('setting resources', () => {
    const createWith = (payload: Record<string, unknown>) => h.inject({ method: 'POST', url: '/api-keys', headers: a.auth, payload: { name: 'fenced', ...payload } });
    const field = (response: LightMyRequestResponse) => (response.json() as Problem & { errors?: Array<{ path: string }> }).errors?.map((error) => error.path) ?? [];

    it('is returned on the key object, null for the whole account', async () => {
      const shown = (await get(`/api-keys/${clusterKey.id}`, a.auth)).json() as { resources: unknown };
      expect(shown.resources).toEqual({ clusters: [inside.cluster], apps: [] });
      const plain = await h.createKey(a, ['full']);
      expect(((await get(`/api-keys/${plain.id}`, a.auth)).json() as { resources: unknown }).resources).toBeNull();
    });

    it.each([
      ['another account’s cluster', () => ({ resources: { clusters: [otherCluster] } }), 'resources.clusters.0'],
      ['a cluster that does not exist', () => ({ resources: { clusters: [inside.cluster, newId('cluster')] } }), 'resources.clusters.1'],
      ['an app that does not exist', () => ({ resources: { apps: [newId('app')] } }), 'resources.apps.0'],
      ['an empty object', () => ({ resources: {} }), 'resources'],
      ['two empty lists', () => ({ resources: { clusters: [], apps: [] } }), 'resources'],
      ['an unknown kind', () => ({ resources: { clouds: [inside.cloud] } }), 'resources'],
      ['more than 50 ids', () => ({ resources: { clusters: Array.from({ length: 51 }, () => newId('cluster')) } }), 'resources.clusters'],
      ['a malformed id', () => ({ resources: { clusters: ['cls_x/../y'] } }), 'resources.clusters.0'],
    ])('%s → 400 validation_failed naming the field, no key stored', async (_name, payload, path) => {
      const keysBefore = ((await get('/api-keys?limit=100', a.auth)).json() as { data: unknown[] }).data.length;
      const response = await createWith(payload());
      expect(response.statusCode, response.body).toBe(400);
      expect((response.json() as Problem).code).toBe('validation_failed');
      expect(field(response).some((found) => found.startsWith(path)), `${response.body}`).toBe(true);
      expect(((await get('/api-keys?limit=100', a.auth)).json() as { data: unknown[] }).data.length).toBe(keysBefore);
    });

    it('PATCH moves the fence from the next request on; a refused PATCH changes nothing', async () => {
      const key = await h.createKey(a, ['clusters:read'], { resources: { clusters: [inside.cluster] } });
      expect((await get(`/clusters/${inside.cluster}`, bearer(key.key))).statusCode).toBe(200);
      const bad = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { resources: { clusters: [otherCluster] } } });
      expect(bad.statusCode).toBe(400);
      expect((await get(`/clusters/${inside.cluster}`, bearer(key.key))).statusCode).toBe(200);
      const moved = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { resources: { clusters: [outside.cluster] } } });
      expect(moved.statusCode, moved.body).toBe(200);
      expect((await get(`/clusters/${inside.cluster}`, bearer(key.key))).statusCode).toBe(404);
      expect((await get(`/clusters/${outside.cluster}`, bearer(key.key))).statusCode).toBe(200);
      const lifted = await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { resources: null } });
      expect((lifted.json() as { resources: unknown }).resources).toBeNull();
      expect((await get(`/clusters/${inside.cluster}`, bearer(key.key))).statusCode).toBe(200);
    });

    it('PATCH may not set canary (400 naming it)', async () => {
      const response = await h.inject({ method: 'PATCH', url: `/api-keys/${clusterKey.id}`, headers: a.auth, payload: { canary: true } });
      expect(response.statusCode).toBe(400);
      expect(field(response).some((path) => path.includes('canary')), response.body).toBe(true);
    });
  });

  describe('the seed refusals come first and keep their words', () => {
    it('a fenced key without the scope gets the seed message, not a 404, for an outside id', async () => {
      const key = await h.createKey(a, ['apps:read'], { resources: { clusters: [inside.cluster] } });
      const response = await get(`/clusters/${outside.cluster}`, bearer(key.key));
      expect(response.statusCode).toBe(403);
      expect((response.json() as Problem).detail).toBe('API key missing required scope: clusters:read');
    });
  });
});
