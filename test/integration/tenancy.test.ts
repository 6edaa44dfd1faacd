import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { AWS_CREDENTIALS, createCloud, createCluster, waitForJob } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { missingIds, normalised, sendRoute, stableHeaders } from '../helpers/route-requests.js';
import {
  ACCOUNT_TABLES,
  COUNTED_TABLES,
  EXPECTED_ROUTES,
  expectedForKey,
  hasPathParameters,
  routeKey,
  routeUrl,
  type ExpectedRoute,
  type Ids,
} from './expected-routes.js';

/**
 * Tenancy (CONTRACT §1, security plan T1/T2): a principal sees only its account's resources, and
 * another account's id answers exactly like an id that does not exist, on every route that takes one.
 * The id routes come from the hand-written table (expected-routes.ts), so a route added there is
 * covered here at once, or fails loudly when its ids or body cannot be built.
 */

type Headers = Record<string, string>;

/** Every route of the table whose path names an id: each must keep another account's ids out of reach. */
const ID_ROUTES = EXPECTED_ROUTES.filter(hasPathParameters);

/** Reads without a parameter in the path: lists, and the account-wide reads (/me, /billing, ...). */
const READS_WITHOUT_ID = EXPECTED_ROUTES.filter((route) => route.method === 'GET' && !hasPathParameters(route));


function expectProblem(response: LightMyRequestResponse, status: number, code: string, context = ''): Problem {
  expect(response.statusCode, `${context} ${response.body}`).toBe(status);
  expect(response.headers['content-type'], context).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body.code, context).toBe(code);
  expect(body.status, context).toBe(status);
  expect(body.request_id, context).toMatch(/^req_/);
  return body;
}

const NOT_FOUND = { status: 404, code: 'not_found' } as const;

/** A caller from account B that tries A's ids, and what CONTRACT §2 says it must get on a route. */
interface Caller {
  name: string;
  /** Read when the test runs: the accounts are made in beforeAll. */
  headers: () => Headers;
  expected: (route: ExpectedRoute) => { status: number; code: string };
}


interface Estate {
  ids: Ids;
  key: { id: string; key: string };
  /** The repository of the account's GitHub integration (a name, not an id, that must not leak either). */
  repository: string;
}

describe(`tenancy (${TEST_DIALECT})`, () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  let estateA: Estate;
  let estateB: Estate;
  let aIds: Ids;
  let bIds: Ids;
  let bKey: { id: string; key: string };

  const db = () => h.deps.database.db;

  const callers: Caller[] = [
    { name: "B's user session", headers: () => b.auth, expected: () => NOT_FOUND },
    {
      name: "B's full API key",
      headers: () => bearer(bKey.key),
      // Step 3 refuses API keys on user-only routes before any lookup; every other route reaches the lookup.
      expected: (route) => {
        const outcome = expectedForKey(route.auth, ['full']);
        return outcome.allowed ? NOT_FOUND : { status: 403, code: outcome.code };
      },
    },
  ];

  async function countRows(table: (typeof COUNTED_TABLES)[number]): Promise<number> {
    const row = await db().selectFrom(table).select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async function get(url: string, headers: Headers): Promise<LightMyRequestResponse> {
    return h.inject({ method: 'GET', url, headers });
  }

  /**
   * Every row of A's in every table, and every table's row count: what B's attempts must leave exactly
   * as it was. Read from the database, so a change no API field shows would still be seen.
   */
  async function snapshotOfA(): Promise<unknown> {
    const rows = await Promise.all(
      ACCOUNT_TABLES.map(async (table) => {
        // Every one of these tables has an account_id column; the cast only names one of them for the types.
        const found = (await db()
          .selectFrom(table as 'clouds')
          .selectAll()
          .where('account_id', '=', a.accountId)
          .execute()) as Array<Record<string, unknown>>;
        // last_used_at is written behind A's own requests with A's key, never by B's.
        const comparable = found.map(({ last_used_at: _lastUsed, ...row }) => row);
        return [table, comparable.map((row) => JSON.stringify(row)).sort()] as const;
      }),
    );
    const counts = await Promise.all(COUNTED_TABLES.map(async (table) => [table, await countRows(table)] as const));
    return { rows: Object.fromEntries(rows), counts: Object.fromEntries(counts) };
  }

  /**
   * A full key, a cloud, a running cluster with a running node pool and a pod, an Airflow app whose first
   * deploy has finished, and a GitHub integration: an id of every kind the table's paths name.
   */
  async function buildEstate(account: Account, label: string): Promise<Estate> {
    const key = await h.createKey(account);
    const cloud = await createCloud(h, account, `${label}-cloud`);
    const { clusterId, jobId } = await createCluster(h, account, { cloudId: cloud, name: `${label}-cluster`, wait: true });

    const poolResponse = await h.inject({
      method: 'POST',
      url: `/clusters/${clusterId}/node-pools`,
      headers: account.auth,
      payload: { name: `${label}-pool`, instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 2 },
    });
    expect(poolResponse.statusCode, poolResponse.body).toBe(202);
    const accepted = poolResponse.json() as { node_pool: { id: string }; job: { id: string } };
    expect((await waitForJob(h, account, accepted.job.id)).status).toBe('succeeded');

    const pods = await get(`/clusters/${clusterId}/pods`, account.auth);
    expect(pods.statusCode, pods.body).toBe(200);
    const podName = (pods.json() as { data: Array<{ name: string }> }).data[0]?.name;
    if (podName === undefined) throw new Error('the running cluster lists no pods');
    const logs = await get(`/clusters/${clusterId}/pods/${podName}/logs?tail=5`, account.auth);
    expect(logs.statusCode, logs.body).toBe(200);

    // An Airflow app with an image: the DAG upload and every deploy route would work on it for its owner.
    const app = await h.inject({
      method: 'POST',
      url: '/apps',
      headers: account.auth,
      payload: { name: `${label}-etl`, cluster_id: clusterId, type: 'airflow', image: `registry.example.com/${label}/etl:v1` },
    });
    expect(app.statusCode, app.body).toBe(201);
    const appId = (app.json() as { id: string }).id;
    const deploys = await get(`/apps/${appId}/deploys`, account.auth);
    const deploy = (deploys.json() as { data: Array<{ id: string; job_id: string }> }).data[0];
    if (deploy === undefined) throw new Error(`the new app has no first deploy: ${deploys.body}`);
    expect((await waitForJob(h, account, deploy.job_id)).status).toBe('succeeded');

    const repository = `${label}-org/${label}-dags`;
    const github = await h.inject({
      method: 'PUT',
      url: '/integrations/github',
      headers: account.auth,
      payload: { installation_id: 4242, repository, branch: 'main', dag_path: 'dags/' },
    });
    expect(github.statusCode, github.body).toBe(201);

    // A webhook endpoint at an address nothing listens on (its deliveries fail; only its id matters here).
    const webhook = await h.inject({ method: 'POST', url: '/webhooks', headers: account.auth, payload: { url: 'http://127.0.0.1:9/hook', event_types: ['*'] } });
    expect(webhook.statusCode, webhook.body).toBe(201);

    return {
      ids: { key: key.id, cloud, cluster: clusterId, pool: accepted.node_pool.id, pod: podName, job: jobId, app: appId, deploy: deploy.id, webhook: (webhook.json() as { id: string }).id },
      key,
      repository,
    };
  }

  /** What must appear in none of the other account's answers: its account id, every id it owns, its repository. */
  async function secretsOf(account: Account, estate: Estate): Promise<string[]> {
    const ownRows = await Promise.all(
      (['api_keys', 'clouds', 'clusters', 'node_pools', 'jobs', 'apps', 'deploys', 'webhooks'] as const).map((table) =>
        db()
          .selectFrom(table as 'clouds')
          .select('id')
          .where('account_id', '=', account.accountId)
          .execute(),
      ),
    );
    return [account.accountId, estate.repository, ...ownRows.flat().map((row) => row.id)];
  }

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, env: { WEBHOOK_ALLOW_PRIVATE: 'on' } });
    a = await h.newAccount();
    b = await h.newAccount();
    estateA = await buildEstate(a, 'alpha');
    aIds = estateA.ids;
    // B has the same kinds of resources, so B's lists and B's own cluster and app are not trivially empty.
    estateB = await buildEstate(b, 'bravo');
    bIds = estateB.ids;
    bKey = estateB.key;
  }, 60_000);

  afterAll(async () => h?.close());

  /** Route keys each caller has actually sent A's ids and missing ids to (read by the coverage test). */
  const exercised = new Map(callers.map((caller) => [caller.name, new Set<string>()]));


  const send = (route: ExpectedRoute, ids: Ids, headers: Headers) => sendRoute(h, route, ids, headers);

  for (const caller of callers) {
    describe(`${caller.name} on every route with an id`, () => {
      it.each(ID_ROUTES.map((route) => [routeKey(route.method, route.path), route] as const))(
        "%s answers A's ids exactly like missing ids, and A is untouched",
        async (name, route) => {
          const headers = caller.headers();
          const missing = missingIds();
          const before = await snapshotOfA();
          const foreign = await send(route, aIds, headers);
          const absent = await send(route, missing, headers);
          exercised.get(caller.name)?.add(name);

          const { status, code } = caller.expected(route);
          expectProblem(foreign, status, code, `A's ids: ${name}`);
          expectProblem(absent, status, code, `missing ids: ${name}`);
          // No oracle: the same problem (the ids asked for blanked out) and the same headers, WWW-Authenticate included.
          expect(normalised(foreign, [aIds, missing])).toEqual(normalised(absent, [aIds, missing]));
          expect(foreign.headers['www-authenticate']).toBe(absent.headers['www-authenticate']);
          expect(stableHeaders(foreign)).toEqual(stableHeaders(absent));
          expect(await snapshotOfA()).toEqual(before);
        },
      );
    });
  }

  // Runs after the per-route tests above (a file's tests run in order): it reads what they recorded, so it
  // fails when a route with an id was skipped, or when its test stopped before sending (e.g. fillPath
  // could not name its ids). Run alone (-t), it fails too: it cannot vouch for tests that did not run.
  it("exercised every route of the table whose path has a parameter, for each of B's callers", () => {
    const withParameter = EXPECTED_ROUTES.filter((route) => /\{[^}]*\}/.test(route.path))
      .map((route) => routeKey(route.method, route.path))
      .sort();
    expect(withParameter.length).toBeGreaterThan(0);
    expect([...exercised.keys()]).toHaveLength(callers.length);
    for (const [caller, routes] of exercised) expect([...routes].sort(), caller).toEqual(withParameter);
  });

  it("B's own cluster does not reach A's node pool: 404 like a missing pool, and A is untouched", async () => {
    const before = await snapshotOfA();
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const send = (pool: string) =>
        h.inject({ method, url: `/clusters/${bIds.cluster}/node-pools/${pool}`, headers: b.auth, ...(method === 'PATCH' ? { payload: { desired_size: 3 } } : {}) });
      const missingPool = newId('nodePool');
      const foreign = await send(aIds.pool);
      const absent = await send(missingPool);
      expectProblem(foreign, 404, 'not_found');
      expectProblem(absent, 404, 'not_found');
      expect(normalised(foreign, [{ ...bIds, pool: aIds.pool }])).toEqual(normalised(absent, [{ ...bIds, pool: missingPool }]));
    }
    expect(await snapshotOfA()).toEqual(before);
  });

  it("B's own app does not reach A's deploy: 404 like a missing deploy", async () => {
    const missingDeploy = newId('deploy');
    const foreign = await get(`/apps/${bIds.app}/deploys/${aIds.deploy}`, b.auth);
    const absent = await get(`/apps/${bIds.app}/deploys/${missingDeploy}`, b.auth);
    expectProblem(foreign, 404, 'not_found');
    expectProblem(absent, 404, 'not_found');
    expect(normalised(foreign, [{ ...bIds, deploy: aIds.deploy }])).toEqual(normalised(absent, [{ ...bIds, deploy: missingDeploy }]));
    // B's own deploy is reachable the same way: the 404s above are about the deploy, not the app.
    expect((await get(`/apps/${bIds.app}/deploys/${bIds.deploy}`, b.auth)).statusCode).toBe(200);
  });

  it("after B's attempts to roll and revoke it, A's key still authenticates with its original secret", async () => {
    for (const attempt of ['DELETE', 'POST'] as const) {
      const url = attempt === 'DELETE' ? `/api-keys/${estateA.key.id}` : `/api-keys/${estateA.key.id}/roll`;
      expectProblem(await h.inject({ method: attempt, url, headers: b.auth }), 404, 'not_found');
    }
    const me = await get('/me', bearer(estateA.key.key));
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ type: 'api_key', account_id: a.accountId, api_key: { id: estateA.key.id } });
  });

  it("A's ids appear in none of B's reads without an id (every one in the table), nor in B's lists filtered by them (session and full key)", async () => {
    const reads = READS_WITHOUT_ID.map((route) => routeUrl(route, bIds));
    // Sanity: the table's lists are all among them.
    expect(reads).toEqual(expect.arrayContaining(['/api-keys', '/clouds', '/clusters', '/jobs', '/apps', '/integrations/github', '/billing']));
    const filtered = [
      '/api-keys?limit=200',
      '/clouds?limit=200',
      '/clusters?limit=200',
      `/clusters/${bIds.cluster}/node-pools?limit=200`,
      `/clusters/${bIds.cluster}/node-pools?include_deleted=true`,
      '/jobs?limit=200',
      '/apps?limit=200',
      `/jobs?resource_id=${aIds.cluster}`,
      `/jobs?resource_id=${aIds.pool}`,
      `/jobs?resource_id=${aIds.app}`,
      `/jobs?resource_id=${aIds.cluster}&resource_type=cluster&status=succeeded`,
      `/clusters?cloud_id=${aIds.cloud}`,
      `/clusters?cloud_id=${aIds.cloud}&status=running`,
      `/apps?cluster_id=${aIds.cluster}`,
      `/apps?cluster_id=${aIds.cluster}&type=airflow`,
      '/clusters?status=running',
      '/clouds?provider=aws',
      '/apps?type=airflow',
    ];
    const namesA = (url: string) => [aIds.cluster, aIds.cloud, aIds.pool, aIds.app].some((id) => url.includes(id));
    const forbidden = await secretsOf(a, estateA);
    for (const headers of [b.auth, bearer(bKey.key)]) {
      for (const url of [...reads, ...filtered]) {
        const response = await get(url, headers);
        // B has one of everything (an integration and billing included), so every read answers 200.
        expect(response.statusCode, `${url}: ${response.body.slice(0, 300)}`).toBe(200);
        for (const secret of forbidden) expect(response.body, `${url} leaks ${secret}`).not.toContain(secret);
        // The local payment portal's stand-in is a page, not JSON: the leak check above is all it needs.
        if (!String(response.headers['content-type']).startsWith('application/json')) continue;
        const body = response.json() as { data?: Array<{ id: string }>; next_cursor?: string | null };
        // A paginated list must fit on one page, or the leak check above would not have seen all of it.
        if ('next_cursor' in body) expect(body.next_cursor, url).toBeNull();
        if (namesA(url)) expect(body.data, url).toEqual([]);
      }
    }
    // B's own reads do show B's resources: the checks above look at real, non-empty lists.
    const idsIn = async (url: string) => ((await get(url, b.auth)).json() as { data: Array<{ id: string }> }).data.map((item) => item.id);
    expect(await idsIn('/clusters')).toEqual([bIds.cluster]);
    expect(await idsIn('/clouds')).toEqual([bIds.cloud]);
    expect(await idsIn('/apps')).toEqual([bIds.app]);
    expect(await idsIn(`/clusters/${bIds.cluster}/node-pools`)).toEqual([bIds.pool]);
    expect(await idsIn(`/jobs?resource_id=${bIds.cluster}`)).toEqual([bIds.job]);
    expect(await idsIn('/api-keys')).toEqual([bKey.id]);
    expect((await get('/integrations/github', b.auth)).json()).toMatchObject({ repository: estateB.repository });
  });

  it("B cannot create a cluster on A's cloud: 404 like a missing cloud, and no cluster or job row is written", async () => {
    const before = await snapshotOfA();
    const clustersBefore = await countRows('clusters');
    const jobsBefore = await countRows('jobs');
    const missingCloud = newId('cloud');
    for (const headers of [b.auth, bearer(bKey.key)]) {
      const create = (cloudId: string, name: string) =>
        h.inject({ method: 'POST', url: '/clusters', headers, payload: { name, cloud_id: cloudId } });
      const foreign = await create(aIds.cloud, 'on-a-cloud');
      const absent = await create(missingCloud, 'on-a-cloud');
      expectProblem(foreign, 404, 'not_found');
      expectProblem(absent, 404, 'not_found');
      expect(normalised(foreign, [{ ...bIds, cloud: aIds.cloud }])).toEqual(normalised(absent, [{ ...bIds, cloud: missingCloud }]));
    }
    expect(await countRows('clusters')).toBe(clustersBefore);
    expect(await countRows('jobs')).toBe(jobsBefore);
    expect(await snapshotOfA()).toEqual(before);
  });

  it("B cannot create an app on A's cluster: 404 like a missing cluster, and no app, deploy or job row is written", async () => {
    const before = await snapshotOfA();
    const missingCluster = newId('cluster');
    for (const headers of [b.auth, bearer(bKey.key)]) {
      const create = (clusterId: string) =>
        h.inject({
          method: 'POST',
          url: '/apps',
          headers,
          payload: { name: 'on-a-cluster', cluster_id: clusterId, type: 'airflow', image: 'registry.example.com/bravo/etl:v2' },
        });
      const foreign = await create(aIds.cluster);
      const absent = await create(missingCluster);
      expectProblem(foreign, 404, 'not_found');
      expectProblem(absent, 404, 'not_found');
      expect(normalised(foreign, [{ ...bIds, cluster: aIds.cluster }])).toEqual(normalised(absent, [{ ...bIds, cluster: missingCluster }]));
    }
    // The snapshot counts every table's rows: no app, deploy or job was written for anyone.
    expect(await snapshotOfA()).toEqual(before);
  });

  it("A's full key acts for A's account only: B's ids answer 404 on every read with an id, and B's resources are in none of A's reads", async () => {
    const key = bearer(estateA.key.key);
    const me = await get('/me', key);
    expect(me.json()).toMatchObject({ type: 'api_key', account_id: a.accountId, user_id: a.userId });
    const readsWithId = ID_ROUTES.filter((route) => route.method === 'GET' && expectedForKey(route.auth, ['full']).allowed);
    expect(readsWithId.length).toBeGreaterThan(0);
    for (const route of readsWithId) {
      expectProblem(await get(routeUrl(route, bIds), key), 404, 'not_found', routeKey(route.method, route.path));
    }
    const forbidden = await secretsOf(b, estateB);
    for (const url of [...READS_WITHOUT_ID.map((route) => routeUrl(route, aIds)), `/jobs?resource_id=${bIds.cluster}`, `/apps?cluster_id=${bIds.cluster}`]) {
      const response = await get(url, key);
      expect(response.statusCode, url).toBe(200);
      for (const secret of forbidden) expect(response.body, `${url} leaks ${secret}`).not.toContain(secret);
    }
    const clusters = (await get('/clusters', key)).json() as { data: Array<{ id: string }> };
    expect(clusters.data.map((c) => c.id)).toEqual([aIds.cluster]);
  });

  describe('organisations', () => {
    const ORG = 'org_x';
    let c: Account;
    let d: Account;

    beforeAll(async () => {
      c = await h.newAccount({ orgId: ORG });
      d = await h.newAccount({ orgId: ORG });
    });

    it('two users in org_x share the organisation account: what one creates, the other sees', async () => {
      for (const member of [c, d]) {
        const me = await get('/me', member.auth);
        expect(me.json()).toMatchObject({ type: 'user', user_id: member.userId, account_id: ORG, org_id: ORG });
      }
      const cloudId = await createCloud(h, c, 'org-cloud');
      const { clusterId, jobId } = await createCluster(h, c, { cloudId, name: 'org-cluster', wait: true });
      const seen = await get(`/clusters/${clusterId}`, d.auth);
      expect(seen.statusCode, seen.body).toBe(200);
      expect(seen.json()).toMatchObject({ id: clusterId, name: 'org-cluster', cloud_id: cloudId, status: 'running' });
      const list = (await get('/clusters', d.auth)).json() as { data: Array<{ id: string }> };
      expect(list.data.map((cluster) => cluster.id)).toContain(clusterId);
      const job = await get(`/jobs/${jobId}`, d.auth);
      expect(job.statusCode).toBe(200);
      expect(job.json()).toMatchObject({ id: jobId, created_by: c.userId });
      expect(await db().selectFrom('clusters').select('id').where('account_id', '=', ORG).execute()).toEqual([{ id: clusterId }]);
      // A and B are not members and see nothing of it.
      for (const outsider of [a, b]) expectProblem(await get(`/clusters/${clusterId}`, outsider.auth), 404, 'not_found');
    });

    it("the same user without the org claim acts in a personal account that does not see the org's resources", async () => {
      const cloudId = await createCloud(h, c, 'org-only-cloud');
      const personalToken = await h.clerk.session({ sub: c.userId, email: c.email }, { expiresInSeconds: 3600 });
      const personal = bearer(personalToken);
      const me = await get('/me', personal);
      expect(me.json()).toMatchObject({ type: 'user', user_id: c.userId, account_id: c.userId, org_id: null });
      expectProblem(await get(`/clouds/${cloudId}`, personal), 404, 'not_found');
      const clouds = await get('/clouds', personal);
      expect(clouds.statusCode).toBe(200);
      expect(clouds.json()).toEqual({ data: [], next_cursor: null });
      const clusters = await get('/clusters', personal);
      expect(clusters.json()).toEqual({ data: [], next_cursor: null });
      const jobs = await get('/jobs', personal);
      expect(jobs.json()).toEqual({ data: [], next_cursor: null });
      // And the personal account's own resources stay out of the organisation.
      const personalAccount: Account = { ...c, orgId: null, accountId: c.userId, token: personalToken, auth: personal };
      const personalCloud = await createCloud(h, personalAccount, 'personal-cloud');
      expectProblem(await get(`/clouds/${personalCloud}`, c.auth), 404, 'not_found');
      expectProblem(await get(`/clouds/${personalCloud}`, d.auth), 404, 'not_found');
    });

    it('an API key created in the org acts for the org only, never for its creator’s personal account', async () => {
      const orgKey = await h.createKey(c);
      const key = bearer(orgKey.key);
      const me = await get('/me', key);
      expect(me.json()).toMatchObject({ type: 'api_key', user_id: c.userId, account_id: ORG, org_id: ORG });

      const personalToken = await h.clerk.session({ sub: c.userId, email: c.email }, { expiresInSeconds: 3600 });
      const personalAccount: Account = { ...c, orgId: null, accountId: c.userId, token: personalToken, auth: bearer(personalToken) };
      const personalCloud = await createCloud(h, personalAccount, 'mine-alone');
      const orgCloud = await createCloud(h, d, 'team-cloud');

      expectProblem(await get(`/clouds/${personalCloud}`, key), 404, 'not_found');
      const seen = await get(`/clouds/${orgCloud}`, key);
      expect(seen.statusCode).toBe(200);
      expect(seen.json()).toMatchObject({ id: orgCloud, name: 'team-cloud' });
      const list = await get('/clouds?limit=200', key);
      expect(list.body).not.toContain(personalCloud);
      expect((list.json() as { data: Array<{ id: string }> }).data.map((cloud) => cloud.id)).toContain(orgCloud);

      // The key lists among the org's keys (members see it), not among the personal account's.
      expect((await get(`/api-keys/${orgKey.id}`, d.auth)).statusCode).toBe(200);
      expectProblem(await get(`/api-keys/${orgKey.id}`, personalAccount.auth), 404, 'not_found');

      // What it creates lands in the org.
      const created = await h.inject({
        method: 'POST',
        url: '/clouds',
        headers: key,
        payload: { name: 'made-by-key', provider: 'aws', region: 'eu-west-1', credentials: AWS_CREDENTIALS },
      });
      expect(created.statusCode, created.body).toBe(201);
      const madeId = (created.json() as { id: string }).id;
      const row = await db().selectFrom('clouds').select(['account_id']).where('id', '=', madeId).executeTakeFirstOrThrow();
      expect(row.account_id).toBe(ORG);
      expect((await get(`/clouds/${madeId}`, d.auth)).statusCode).toBe(200);
      expectProblem(await get(`/clouds/${madeId}`, personalAccount.auth), 404, 'not_found');
    });
  });
});
