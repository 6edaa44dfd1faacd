import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { AWS_CREDENTIALS, createCloud, createCluster, waitForJob } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/**
 * Tenancy (CONTRACT §1, security plan T1/T2): a principal sees only its account's resources, and
 * another account's id answers exactly like an id that does not exist, on every route that takes one.
 */

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Headers = Record<string, string>;


/** The ids one id-route needs: a cloud, cluster, pool, pod, job and API key. */
interface Ids {
  cloud: string;
  cluster: string;
  pool: string;
  pod: string;
  job: string;
  key: string;
}

interface IdRoute {
  name: string;
  method: Method;
  url: (ids: Ids) => string;
  /** A body that passes validation, so the answer is decided by the lookup alone. */
  payload?: Record<string, unknown>;
  /** API keys are refused before any lookup (CONTRACT §2 step 3). */
  userOnly?: boolean;
}

const ID_ROUTES: IdRoute[] = [
  { name: 'GET /clouds/{id}', method: 'GET', url: (i) => `/clouds/${i.cloud}` },
  { name: 'PATCH /clouds/{id}', method: 'PATCH', url: (i) => `/clouds/${i.cloud}`, payload: { name: 'stolen-cloud' } },
  { name: 'DELETE /clouds/{id}', method: 'DELETE', url: (i) => `/clouds/${i.cloud}` },
  { name: 'GET /clusters/{id}', method: 'GET', url: (i) => `/clusters/${i.cluster}` },
  { name: 'PATCH /clusters/{id}', method: 'PATCH', url: (i) => `/clusters/${i.cluster}`, payload: { name: 'stolen-cluster', labels: { owner: 'b' } } },
  { name: 'DELETE /clusters/{id}', method: 'DELETE', url: (i) => `/clusters/${i.cluster}` },
  { name: 'POST /clusters/{id}/upgrade', method: 'POST', url: (i) => `/clusters/${i.cluster}/upgrade`, payload: { kubernetes_version: '1.33' } },
  { name: 'GET /clusters/{id}/node-pools', method: 'GET', url: (i) => `/clusters/${i.cluster}/node-pools` },
  {
    name: 'POST /clusters/{id}/node-pools',
    method: 'POST',
    url: (i) => `/clusters/${i.cluster}/node-pools`,
    payload: { name: 'stolen-pool', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 2 },
  },
  { name: 'GET /clusters/{id}/node-pools/{pool}', method: 'GET', url: (i) => `/clusters/${i.cluster}/node-pools/${i.pool}` },
  { name: 'PATCH /clusters/{id}/node-pools/{pool}', method: 'PATCH', url: (i) => `/clusters/${i.cluster}/node-pools/${i.pool}`, payload: { desired_size: 3 } },
  { name: 'DELETE /clusters/{id}/node-pools/{pool}', method: 'DELETE', url: (i) => `/clusters/${i.cluster}/node-pools/${i.pool}` },
  { name: 'GET /clusters/{id}/pods', method: 'GET', url: (i) => `/clusters/${i.cluster}/pods` },
  { name: 'GET /clusters/{id}/pods/{pod}/logs', method: 'GET', url: (i) => `/clusters/${i.cluster}/pods/${i.pod}/logs?tail=5` },
  { name: 'GET /jobs/{id}', method: 'GET', url: (i) => `/jobs/${i.job}` },
  { name: 'POST /jobs/{id}/cancel', method: 'POST', url: (i) => `/jobs/${i.job}/cancel` },
  { name: 'GET /api-keys/{id}', method: 'GET', url: (i) => `/api-keys/${i.key}` },
  { name: 'DELETE /api-keys/{id}', method: 'DELETE', url: (i) => `/api-keys/${i.key}`, userOnly: true },
  { name: 'POST /api-keys/{id}/roll', method: 'POST', url: (i) => `/api-keys/${i.key}/roll`, userOnly: true },
];

/** Ids of the right kinds and shape that name nothing stored. */
function missingIds(): Ids {
  return {
    cloud: newId('cloud'),
    cluster: newId('cluster'),
    pool: newId('nodePool'),
    pod: 'coredns-0123456789-abcde',
    job: newId('job'),
    key: newId('apiKey'),
  };
}

/** The problem body with what legitimately differs between two calls (request id, echoed ids) blanked out. */
function normalised(response: LightMyRequestResponse, ids: Ids): Record<string, unknown> {
  const body = response.json() as Problem;
  let detail = body.detail;
  for (const id of Object.values(ids)) detail = detail.split(id).join('<id>');
  const { request_id: _requestId, ...rest } = body;
  return { ...rest, detail };
}

function expectProblem(response: LightMyRequestResponse, status: number, code: string): Problem {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(body.request_id).toMatch(/^req_/);
  return body;
}

/** Every id that belongs to `who`, to look for in another account's responses. */
const allIds = (ids: Ids): string[] => [ids.cloud, ids.cluster, ids.pool, ids.job, ids.key];

describe(`tenancy (${TEST_DIALECT})`, () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  let aKey: { id: string; key: string };
  let bKey: { id: string; key: string };
  let aIds: Ids;
  let aJobIds: string[];
  let bIds: Ids;

  const db = () => h.deps.database.db;

  async function countRows(table: 'clouds' | 'clusters' | 'node_pools' | 'jobs' | 'api_keys', accountId?: string): Promise<number> {
    let query = db().selectFrom(table).select((eb) => eb.fn.countAll<string | number>().as('n'));
    if (accountId !== undefined) query = query.where('account_id', '=', accountId);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async function get(url: string, headers: Headers): Promise<LightMyRequestResponse> {
    return h.inject({ method: 'GET', url, headers });
  }

  /** A's resources as A reads them, plus row counts: what B's attempts must leave exactly as it was. */
  async function snapshotOfA() {
    const read = async (url: string) => {
      const response = await get(url, a.auth);
      expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
      return response.json() as Record<string, unknown>;
    };
    const cloud = await read(`/clouds/${aIds.cloud}`);
    const cluster = await read(`/clusters/${aIds.cluster}`);
    const pool = await read(`/clusters/${aIds.cluster}/node-pools/${aIds.pool}`);
    const key = await read(`/api-keys/${aIds.key}`);
    const jobs = await read('/jobs?limit=200');
    return {
      cloud: { name: cloud.name, region: cloud.region, updated_at: cloud.updated_at, credentials: cloud.credentials },
      cluster: {
        name: cluster.name,
        status: cluster.status,
        kubernetes_version: cluster.kubernetes_version,
        labels: cluster.labels,
        active_job_id: cluster.active_job_id,
        updated_at: cluster.updated_at,
        deleted_at: cluster.deleted_at,
      },
      pool: { name: pool.name, status: pool.status, desired_size: pool.desired_size, updated_at: pool.updated_at, deleted_at: pool.deleted_at },
      // last_used_at is left out: it records A's own use of the key, not B's.
      key: { name: key.name, prefix: key.prefix, last_four: key.last_four, revoked_at: key.revoked_at, scopes: key.scopes },
      jobs: (jobs.data as Array<{ id: string; status: string; updated_at: string }>).map((job) => [job.id, job.status, job.updated_at]),
      rows: {
        jobs: await countRows('jobs'),
        jobsOfA: await countRows('jobs', a.accountId),
        clouds: await countRows('clouds'),
        clusters: await countRows('clusters'),
        nodePools: await countRows('node_pools'),
        apiKeys: await countRows('api_keys'),
      },
    };
  }

  /** A running cluster with a running node pool, a pod name, and the jobs that made them. */
  async function buildEstate(account: Account, label: string): Promise<{ ids: Ids; jobIds: string[]; key: { id: string; key: string } }> {
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
    const poolJob = await waitForJob(h, account, accepted.job.id);
    expect(poolJob.status).toBe('succeeded');
    const pods = await get(`/clusters/${clusterId}/pods`, account.auth);
    expect(pods.statusCode, pods.body).toBe(200);
    const podName = (pods.json() as { data: Array<{ name: string }> }).data[0]?.name;
    if (podName === undefined) throw new Error('the running cluster lists no pods');
    const logs = await get(`/clusters/${clusterId}/pods/${podName}/logs?tail=5`, account.auth);
    expect(logs.statusCode, logs.body).toBe(200);
    return {
      ids: { cloud, cluster: clusterId, pool: accepted.node_pool.id, pod: podName, job: jobId, key: key.id },
      jobIds: [jobId, accepted.job.id],
      key,
    };
  }

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    a = await h.newAccount();
    b = await h.newAccount();
    const estateA = await buildEstate(a, 'alpha');
    aIds = estateA.ids;
    aJobIds = estateA.jobIds;
    aKey = estateA.key;
    // B has the same kinds of resources, so B's lists and B's own cluster are not trivially empty.
    const estateB = await buildEstate(b, 'bravo');
    bIds = estateB.ids;
    bKey = estateB.key;
  }, 60_000);

  afterAll(async () => h?.close());

  /** For every id route: A's id and a missing id get byte-for-byte the same problem (minus request id and the echoed id). */
  async function expectNoOracle(headers: Headers, expected: (route: IdRoute) => { status: number; code: string }, otherIds: Ids) {
    for (const route of ID_ROUTES) {
      const missing = missingIds();
      const send = (ids: Ids) =>
        h.inject({ method: route.method, url: route.url(ids), headers, ...(route.payload ? { payload: route.payload } : {}) });
      const { status, code } = expected(route);
      const foreign = await send(otherIds);
      const absent = await send(missing);
      expectProblem(foreign, status, code);
      expectProblem(absent, status, code);
      expect(normalised(foreign, otherIds), route.name).toEqual(normalised(absent, missing));
      expect(foreign.headers['www-authenticate'], route.name).toBe(absent.headers['www-authenticate']);
    }
  }

  it("B's user session gets 404 not_found on every id route for A's ids, identical to a missing id, and A is untouched", async () => {
    const before = await snapshotOfA();
    await expectNoOracle(b.auth, () => ({ status: 404, code: 'not_found' }), aIds);
    expect(await snapshotOfA()).toEqual(before);
  });

  it("B's full API key gets the same answer for A's ids as for missing ids (404; 403 user_session_required on user-only routes), and A is untouched", async () => {
    const before = await snapshotOfA();
    await expectNoOracle(
      bearer(bKey.key),
      (route) => (route.userOnly ? { status: 403, code: 'user_session_required' } : { status: 404, code: 'not_found' }),
      aIds,
    );
    expect(await snapshotOfA()).toEqual(before);
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
      expect(normalised(foreign, { ...bIds, pool: aIds.pool })).toEqual(normalised(absent, { ...bIds, pool: missingPool }));
    }
    expect(await snapshotOfA()).toEqual(before);
  });

  it("after B's attempts to roll and revoke it, A's key still authenticates with its original secret", async () => {
    for (const attempt of ['DELETE', 'POST'] as const) {
      const url = attempt === 'DELETE' ? `/api-keys/${aKey.id}` : `/api-keys/${aKey.id}/roll`;
      expectProblem(await h.inject({ method: attempt, url, headers: b.auth }), 404, 'not_found');
    }
    const me = await get('/me', bearer(aKey.key));
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ type: 'api_key', account_id: a.accountId, api_key: { id: aKey.id } });
  });

  it("A's ids appear in none of B's lists, with or without filters naming them (session and full key)", async () => {
    const lists = [
      '/api-keys?limit=200',
      '/clouds?limit=200',
      '/clusters?limit=200',
      `/clusters/${bIds.cluster}/node-pools?limit=200`,
      `/clusters/${bIds.cluster}/node-pools?include_deleted=true`,
      '/jobs?limit=200',
      `/jobs?resource_id=${aIds.cluster}`,
      `/jobs?resource_id=${aIds.pool}`,
      `/jobs?resource_id=${aIds.cluster}&resource_type=cluster&status=succeeded`,
      `/clusters?cloud_id=${aIds.cloud}`,
      `/clusters?cloud_id=${aIds.cloud}&status=running`,
      '/clusters?status=running',
      '/clouds?provider=aws',
    ];
    const forbidden = [...allIds(aIds), ...aJobIds, a.accountId];
    for (const headers of [b.auth, bearer(bKey.key)]) {
      for (const url of lists) {
        const response = await get(url, headers);
        expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
        for (const id of forbidden) expect(response.body, `${url} leaks ${id}`).not.toContain(id);
        const body = response.json() as { data: Array<{ id: string }>; next_cursor: string | null };
        expect(body.next_cursor).toBeNull();
        if (url.includes(aIds.cluster) || url.includes(aIds.cloud) || url.includes(aIds.pool)) expect(body.data, url).toEqual([]);
      }
    }
    // B's own lists do show B's resources: the checks above look at real, non-empty lists.
    const bClusters = (await get('/clusters', b.auth)).json() as { data: Array<{ id: string }> };
    expect(bClusters.data.map((c) => c.id)).toEqual([bIds.cluster]);
    const bPools = (await get(`/clusters/${bIds.cluster}/node-pools`, b.auth)).json() as { data: Array<{ id: string }> };
    expect(bPools.data.map((p) => p.id)).toEqual([bIds.pool]);
    const bJobs = (await get(`/jobs?resource_id=${bIds.cluster}`, b.auth)).json() as { data: Array<{ id: string }> };
    expect(bJobs.data.map((j) => j.id)).toEqual([bIds.job]);
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
      expect(normalised(foreign, { ...bIds, cloud: aIds.cloud })).toEqual(normalised(absent, { ...bIds, cloud: missingCloud }));
    }
    expect(await countRows('clusters')).toBe(clustersBefore);
    expect(await countRows('jobs')).toBe(jobsBefore);
    expect(await snapshotOfA()).toEqual(before);
  });

  it("A's full key acts for A's account only: B's ids answer 404 and B's resources are in none of A's lists", async () => {
    const key = bearer(aKey.key);
    const me = await get('/me', key);
    expect(me.json()).toMatchObject({ type: 'api_key', account_id: a.accountId, user_id: a.userId });
    for (const url of [
      `/clouds/${bIds.cloud}`,
      `/clusters/${bIds.cluster}`,
      `/clusters/${bIds.cluster}/node-pools`,
      `/clusters/${bIds.cluster}/node-pools/${bIds.pool}`,
      `/clusters/${bIds.cluster}/pods`,
      `/jobs/${bIds.job}`,
      `/api-keys/${bIds.key}`,
    ]) {
      expectProblem(await get(url, key), 404, 'not_found');
    }
    const forbidden = [...allIds(bIds), b.accountId];
    for (const url of ['/api-keys?limit=200', '/clouds?limit=200', '/clusters?limit=200', '/jobs?limit=200', `/jobs?resource_id=${bIds.cluster}`]) {
      const response = await get(url, key);
      expect(response.statusCode, url).toBe(200);
      for (const id of forbidden) expect(response.body, `${url} leaks ${id}`).not.toContain(id);
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
      expect(await countRows('clusters', ORG)).toBe(1);
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
