import type { LightMyRequestResponse } from 'fastify';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGE_V1, IMAGE_V2, uniqueName, type AppBody, type DeployBody, type HealthBody } from '../helpers/apps-fixtures.js';
import { multipartBody, type FormPart } from '../helpers/dags-archives.js';
import { AWS_CREDENTIALS, createCloud, createCluster, waitForJob, type JobBody } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/**
 * The seed's "Scope combinations" (shared/seed/api-key-scopes.md) as real workflows through HTTP, each
 * key holding exactly the scopes the table lists (written out here, never imported from src/).
 */

const CI_CD = ['apps:deploy', 'clusters:read'];
const DAG_SYNC_BOT = ['apps:deploy'];
const MONITORING = ['clusters:read', 'apps:read', 'jobs:read'];
const CLUSTER_AUTOMATION = ['clusters:read', 'clusters:write'];

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
type Headers = Record<string, string>;
/** A request a key tries; `dags` sends a real multipart DAG upload. */
interface Attempt {
  method: Method;
  url: string;
  payload?: Record<string, unknown>;
  dags?: boolean;
}
interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
interface ClusterBody {
  id: string;
  status: string;
  updated_at: string;
}
interface BundleBody {
  id: string;
  status: string;
  files: Array<{ path: string }>;
}

const DAG_FILES: FormPart[] = [
  { filename: 'dags/etl.py', data: "from airflow import DAG\n\nwith DAG('etl') as dag:\n    pass\n" },
  { filename: 'dags/lib/helpers.py', data: 'def helper():\n    return 1\n' },
];
const COUNTED = ['apps', 'deploys', 'dag_bundles', 'jobs', 'clusters', 'api_keys'] as const;
const FINISHED = ['succeeded', 'failed', 'canceled'];

describe(`seed scope combinations as workflows (${TEST_DIALECT})`, () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
  });
  afterAll(async () => h?.close());

  async function send(headers: Headers, { method, url, payload, dags }: Attempt): Promise<LightMyRequestResponse> {
    if (dags) {
      const body = multipartBody(DAG_FILES);
      return h.inject({ method, url, headers: { ...headers, ...body.headers }, payload: body.payload });
    }
    return h.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  }

  async function ok<T>(headers: Headers, attempt: Attempt, status = 200): Promise<T> {
    const response = await send(headers, attempt);
    expect(response.statusCode, `${attempt.method} ${attempt.url}: ${response.body}`).toBe(status);
    return response.json() as T;
  }
  const get = <T>(headers: Headers, url: string): Promise<T> => ok<T>(headers, { method: 'GET', url });

  async function expectMissingScope(headers: Headers, attempt: Attempt, scope: string): Promise<void> {
    const response = await send(headers, attempt);
    const label = `${attempt.method} ${attempt.url}`;
    expect(response.statusCode, `${label}: ${response.body}`).toBe(403);
    expect(response.headers['content-type'], label).toMatch(/^application\/problem\+json/);
    expect(response.json() as Problem, label).toMatchObject({
      status: 403,
      code: 'insufficient_scope',
      detail: `API key missing required scope: ${scope}`,
      required_scope: scope,
    });
    expect(response.headers['www-authenticate'], label).toBe(`Bearer realm="skaledata", error="insufficient_scope", scope="${scope}"`);
  }

  async function expectUserOnly(headers: Headers, attempts: Attempt[]): Promise<void> {
    for (const attempt of attempts) {
      const response = await send(headers, attempt);
      const label = `${attempt.method} ${attempt.url}`;
      expect(response.statusCode, `${label}: ${response.body}`).toBe(403);
      expect(response.json() as Problem, label).toMatchObject({ status: 403, code: 'user_session_required' });
    }
  }

  const userOnlyAttempts = (clusterId: string): Attempt[] => [
    { method: 'POST', url: '/api-keys', payload: { name: 'escalation', scopes: ['full'] } },
    { method: 'POST', url: '/billing/subscription', payload: { plan: 'team' } },
    { method: 'POST', url: `/clusters/${clusterId}/data-plane-token`, payload: {} },
  ];

  async function counts(): Promise<Record<string, number>> {
    const db = h.deps.database.db;
    const rows = await Promise.all(
      COUNTED.map(async (table) => [table, Number((await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)] as const),
    );
    return Object.fromEntries(rows);
  }

  /** A running app of `type`, created by the user through POST /apps with a first image. */
  async function runningApp(user: Account, clusterId: string, type: 'airflow' | 'service'): Promise<AppBody> {
    const created = await ok<AppBody>(user.auth, { method: 'POST', url: '/apps', payload: { name: uniqueName(type), cluster_id: clusterId, type, image: IMAGE_V1 } }, 201);
    expect((await waitForJob(h, user, created.active_job_id ?? '')).status).toBe('succeeded');
    const app = await get<AppBody>(user.auth, `/apps/${created.id}`);
    expect(app.status).toBe('running');
    return app;
  }

  /** Polls a resource with `headers` until its status is one of `statuses`. */
  const pollStatus = <T extends { status: string }>(headers: Headers, url: string, statuses: string[]): Promise<T> =>
    waitFor(async () => {
      const body = await get<T>(headers, url);
      return statuses.includes(body.status) ? body : undefined;
    }, 15_000);

  describe('CI/CD deploy pipeline ["apps:deploy", "clusters:read"]', () => {
    it('reads clusters, gets a registry token, deploys an image, and cannot create or destroy clusters', async () => {
      const user = await h.newAccount();
      const { clusterId, cloudId } = await createCluster(h, user, { wait: true });
      const app = await runningApp(user, clusterId, 'service');
      const ci = bearer((await h.createKey(user, CI_CD)).key);

      const clusters = await get<Page<ClusterBody>>(ci, '/clusters');
      expect(clusters.data.map((cluster) => cluster.id)).toEqual([clusterId]);
      expect((await get<ClusterBody>(ci, `/clusters/${clusterId}`)).status).toBe('running');

      const registry = await ok<{ token: string; registry: string; repository: string }>(ci, { method: 'POST', url: `/apps/${app.id}/registry-token` });
      expect(registry.repository).toContain(app.name);
      const jwks = createLocalJWKSet(await get<JSONWebKeySet>({}, '/.well-known/jwks.json'));
      const { payload } = await jwtVerify(registry.token, jwks, { audience: registry.registry });
      expect(payload.access).toEqual([{ type: 'repository', name: registry.repository, actions: ['pull', 'push'] }]);

      const accepted = await ok<{ deploy: DeployBody; job: JobBody }>(ci, { method: 'POST', url: `/apps/${app.id}/deploys`, payload: { image: IMAGE_V2 } }, 202);
      expect(accepted.deploy).toMatchObject({ app_id: app.id, image: IMAGE_V2, previous_image: IMAGE_V1, status: 'queued' });
      const finished = await pollStatus<DeployBody>(ci, `/apps/${app.id}/deploys/${accepted.deploy.id}`, FINISHED);
      expect(finished.status, JSON.stringify(finished)).toBe('succeeded');
      expect(await get<AppBody>(user.auth, `/apps/${app.id}`)).toMatchObject({ status: 'running', image: IMAGE_V2 });

      const before = await get<ClusterBody>(user.auth, `/clusters/${clusterId}`);
      const rows = await counts();
      await expectMissingScope(ci, { method: 'POST', url: '/clusters', payload: { name: 'ci-made', cloud_id: cloudId } }, 'clusters:write');
      await expectMissingScope(ci, { method: 'DELETE', url: `/clusters/${clusterId}` }, 'clusters:write');
      const after = await get<ClusterBody>(user.auth, `/clusters/${clusterId}`);
      expect(after).toMatchObject({ status: 'running', updated_at: before.updated_at });
      expect(after).toEqual(before);
      expect(await counts()).toEqual(rows);
    });
  });

  describe('DAG sync bot ["apps:deploy"]', () => {
    it('uploads a DAG bundle that syncs, and gets 403 naming the missing scope on everything else', async () => {
      const user = await h.newAccount();
      const { clusterId, cloudId } = await createCluster(h, user, { wait: true });
      const app = await runningApp(user, clusterId, 'airflow');
      const bot = bearer((await h.createKey(user, DAG_SYNC_BOT)).key);

      const accepted = await ok<{ bundle: BundleBody; job: JobBody }>(bot, { method: 'POST', url: `/apps/${app.id}/dags`, dags: true }, 202);
      // The bot cannot read jobs: the user follows the sync.
      const job = await waitForJob(h, user, accepted.job.id);
      expect(job.status, JSON.stringify(job.error)).toBe('succeeded');
      const bundles = await get<Page<BundleBody>>(user.auth, `/apps/${app.id}/dags`);
      expect(bundles.data).toHaveLength(1);
      expect(bundles.data[0]).toMatchObject({ id: accepted.bundle.id, status: 'synced' });
      expect(bundles.data[0]?.files.map((file) => file.path)).toEqual(['dags/etl.py', 'dags/lib/helpers.py']);

      const rows = await counts();
      const refused: Array<[Attempt, string]> = [
        [{ method: 'GET', url: '/clusters' }, 'clusters:read'],
        [{ method: 'GET', url: '/apps' }, 'apps:read'],
        [{ method: 'GET', url: `/apps/${app.id}/dags` }, 'apps:read'],
        [{ method: 'POST', url: `/apps/${app.id}/restart` }, 'apps:manage'],
        [{ method: 'GET', url: '/jobs' }, 'jobs:read'],
        [{ method: 'POST', url: `/clusters/${clusterId}/terminal`, payload: {} }, 'terminal:exec'],
        [{ method: 'POST', url: '/clusters', payload: { name: 'bot-made', cloud_id: cloudId } }, 'clusters:write'],
        [{ method: 'GET', url: '/api-keys' }, 'full'],
        [{ method: 'GET', url: '/billing' }, 'full'],
      ];
      for (const [attempt, scope] of refused) await expectMissingScope(bot, attempt, scope);
      await expectUserOnly(bot, userOnlyAttempts(clusterId));
      expect(await counts()).toEqual(rows);
      expect(await get<AppBody>(user.auth, `/apps/${app.id}`)).toEqual(app);
    });
  });

  describe('monitoring / dashboards ["clusters:read", "apps:read", "jobs:read"]', () => {
    let user: Account;
    let monitor: Headers;
    let clusterId: string;
    let cloudId: string;
    let app: AppBody;

    beforeAll(async () => {
      user = await h.newAccount();
      ({ clusterId, cloudId } = await createCluster(h, user, { wait: true }));
      app = await runningApp(user, clusterId, 'airflow');
      monitor = bearer((await h.createKey(user, MONITORING)).key);
    });

    it('reads clusters, node pools, pods, apps, health, deploys and jobs', async () => {
      expect((await get<Page<ClusterBody>>(monitor, '/clusters')).data.map((cluster) => cluster.id)).toEqual([clusterId]);
      expect((await get<ClusterBody>(monitor, `/clusters/${clusterId}`)).status).toBe('running');
      expect((await get<Page<{ cluster_id: string }>>(monitor, `/clusters/${clusterId}/node-pools`)).data.every((pool) => pool.cluster_id === clusterId)).toBe(true);
      expect((await get<Page<{ name: string }>>(monitor, `/clusters/${clusterId}/pods`)).data.length).toBeGreaterThan(0);
      expect((await get<Page<AppBody>>(monitor, '/apps')).data.map((item) => item.id)).toEqual([app.id]);
      expect(await get<AppBody>(monitor, `/apps/${app.id}`)).toEqual(app);
      const health = await get<HealthBody>(monitor, `/apps/${app.id}/health`);
      expect(health).toMatchObject({ app_id: app.id, status: 'healthy' });
      expect(health.checks.length).toBeGreaterThan(0);
      const deploys = await get<Page<DeployBody>>(monitor, `/apps/${app.id}/deploys`);
      expect(deploys.data.map((d) => [d.image, d.status])).toEqual([[IMAGE_V1, 'succeeded']]);
      const jobs = await get<Page<JobBody>>(monitor, '/jobs');
      const deployJobId = deploys.data[0]?.job_id ?? '';
      expect(jobs.data.map((job) => job.id)).toContain(deployJobId);
      expect(await get<JobBody>(monitor, `/jobs/${deployJobId}`)).toMatchObject({ id: deployJobId, type: 'app.deploy', status: 'succeeded' });
    });

    it('can change nothing: every write is 403 naming the missing scope, and no row changes', async () => {
      const jobId = (await get<Page<DeployBody>>(user.auth, `/apps/${app.id}/deploys`)).data[0]?.job_id ?? '';
      const rows = await counts();
      const cluster = await get<ClusterBody>(user.auth, `/clusters/${clusterId}`);
      const refused: Array<[Attempt, string]> = [
        [{ method: 'POST', url: '/clusters', payload: { name: 'monitor-made', cloud_id: cloudId } }, 'clusters:write'],
        [{ method: 'PATCH', url: `/clusters/${clusterId}`, payload: { name: 'renamed' } }, 'clusters:write'],
        [{ method: 'DELETE', url: `/clusters/${clusterId}` }, 'clusters:write'],
        [{ method: 'POST', url: '/apps', payload: { name: 'monitor-app', cluster_id: clusterId, type: 'service' } }, 'apps:manage'],
        [{ method: 'PATCH', url: `/apps/${app.id}`, payload: { name: 'renamed' } }, 'apps:manage'],
        [{ method: 'DELETE', url: `/apps/${app.id}` }, 'apps:manage'],
        [{ method: 'POST', url: `/apps/${app.id}/restart` }, 'apps:manage'],
        [{ method: 'POST', url: `/apps/${app.id}/deploys`, payload: { image: IMAGE_V2 } }, 'apps:deploy'],
        [{ method: 'POST', url: `/apps/${app.id}/dags`, dags: true }, 'apps:deploy'],
        [{ method: 'POST', url: `/jobs/${jobId}/cancel` }, 'clusters:write'],
        [{ method: 'PUT', url: '/integrations/github', payload: { installation_id: 12345, repository: 'acme/dags', branch: 'main', dag_path: 'dags/' } }, 'clusters:write'],
      ];
      for (const [attempt, scope] of refused) await expectMissingScope(monitor, attempt, scope);
      expect(await counts()).toEqual(rows);
      expect(await get<ClusterBody>(user.auth, `/clusters/${clusterId}`)).toEqual(cluster);
      expect(await get<AppBody>(user.auth, `/apps/${app.id}`)).toEqual(app);
      const github = await h.inject({ method: 'GET', url: '/integrations/github', headers: user.auth });
      expect(github.statusCode).toBe(404);
    });
  });

  describe('cluster management automation ["clusters:read", "clusters:write"]', () => {
    it('creates a cloud, a cluster and a node pool, reads them, destroys the cluster, and is refused apps routes', async () => {
      const user = await h.newAccount();
      const ops = bearer((await h.createKey(user, CLUSTER_AUTOMATION)).key);

      const cloud = await ok<{ id: string }>(ops, {
        method: 'POST',
        url: '/clouds',
        payload: { name: 'ops-cloud', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS },
      }, 201);
      expect((await get<Page<{ id: string }>>(ops, '/clouds')).data.map((item) => item.id)).toEqual([cloud.id]);
      const created = await ok<{ cluster: ClusterBody; job: JobBody }>(ops, { method: 'POST', url: '/clusters', payload: { name: 'ops-cluster', cloud_id: cloud.id } }, 202);
      const clusterId = created.cluster.id;
      // Without jobs:read the automation follows the cluster itself.
      expect((await pollStatus<ClusterBody>(ops, `/clusters/${clusterId}`, ['running', 'failed'])).status).toBe('running');
      await waitFor(async () => ((await get<{ active_job_id: string | null }>(ops, `/clusters/${clusterId}`)).active_job_id === null ? true : undefined));

      const pool = await ok<{ node_pool: { id: string }; job: JobBody }>(ops, {
        method: 'POST',
        url: `/clusters/${clusterId}/node-pools`,
        payload: { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 1 },
      }, 202);
      const poolUrl = `/clusters/${clusterId}/node-pools/${pool.node_pool.id}`;
      expect((await pollStatus<{ status: string }>(ops, poolUrl, ['running', 'failed'])).status).toBe('running');
      expect((await get<Page<{ id: string }>>(ops, `/clusters/${clusterId}/node-pools`)).data.map((item) => item.id)).toContain(pool.node_pool.id);
      expect((await get<Page<ClusterBody>>(ops, '/clusters')).data.map((item) => item.id)).toEqual([clusterId]);
      await waitForJob(h, user, pool.job.id);

      // Cancelling a finished job is allowed to this key and answers 409.
      const cancel = await send(ops, { method: 'POST', url: `/jobs/${created.job.id}/cancel` });
      expect(cancel.statusCode, cancel.body).toBe(409);
      expect((cancel.json() as Problem).code).toBe('conflict');

      // The user runs an app there; every apps route is refused to the automation key.
      const app = await runningApp(user, clusterId, 'service');
      const rows = await counts();
      const refused: Array<[Attempt, string]> = [
        [{ method: 'GET', url: '/apps' }, 'apps:read'],
        [{ method: 'GET', url: `/apps/${app.id}` }, 'apps:read'],
        [{ method: 'GET', url: `/apps/${app.id}/health` }, 'apps:read'],
        [{ method: 'GET', url: `/apps/${app.id}/deploys` }, 'apps:read'],
        [{ method: 'POST', url: '/apps', payload: { name: 'ops-app', cluster_id: clusterId, type: 'service' } }, 'apps:manage'],
        [{ method: 'PATCH', url: `/apps/${app.id}`, payload: { name: 'renamed' } }, 'apps:manage'],
        [{ method: 'DELETE', url: `/apps/${app.id}` }, 'apps:manage'],
        [{ method: 'POST', url: `/apps/${app.id}/restart` }, 'apps:manage'],
        [{ method: 'POST', url: `/apps/${app.id}/deploys`, payload: { image: IMAGE_V2 } }, 'apps:deploy'],
        [{ method: 'POST', url: `/apps/${app.id}/dags`, dags: true }, 'apps:deploy'],
        [{ method: 'POST', url: `/apps/${app.id}/registry-token` }, 'apps:deploy'],
      ];
      for (const [attempt, scope] of refused) await expectMissingScope(ops, attempt, scope);
      expect(await counts()).toEqual(rows);

      // A cluster still running an app is not destroyed; once the user deleted it, it is.
      const busy = await send(ops, { method: 'DELETE', url: `/clusters/${clusterId}` });
      expect(busy.statusCode, busy.body).toBe(409);
      const deleting = await ok<{ job: JobBody }>(user.auth, { method: 'DELETE', url: `/apps/${app.id}` }, 202);
      expect((await waitForJob(h, user, deleting.job.id)).status).toBe('succeeded');
      const destroy = await ok<{ cluster: ClusterBody; job: JobBody }>(ops, { method: 'DELETE', url: `/clusters/${clusterId}` }, 202);
      expect(destroy.cluster.status).toBe('deleting');
      expect((await waitForJob(h, user, destroy.job.id)).status).toBe('succeeded');
      expect((await get<ClusterBody>(ops, `/clusters/${clusterId}`)).status).toBe('deleted');
      expect((await get<Page<ClusterBody>>(ops, '/clusters')).data).toEqual([]);
    });
  });

  describe('full access ["full"] (the default when scopes are omitted)', () => {
    it('does a representative of each group, but user-only routes still refuse it', async () => {
      const user = await h.newAccount();
      const created = await h.createKey(user);
      const full = bearer(created.key);
      expect((await get<{ api_key: { scopes: string[] } }>(full, '/me')).api_key.scopes).toEqual(['full']);

      // clusters:write + jobs:read + clusters:read
      const cloudId = await createCloud(h, user, 'full-cloud');
      const accepted = await ok<{ cluster: ClusterBody; job: JobBody }>(full, { method: 'POST', url: '/clusters', payload: { name: 'full-cluster', cloud_id: cloudId } }, 202);
      const clusterId = accepted.cluster.id;
      expect((await pollStatus<JobBody>(full, `/jobs/${accepted.job.id}`, FINISHED)).status).toBe('succeeded');
      expect((await get<ClusterBody>(full, `/clusters/${clusterId}`)).status).toBe('running');
      expect((await get<Page<{ id: string }>>(full, '/clouds')).data.map((cloud) => cloud.id)).toEqual([cloudId]);

      // apps:manage + apps:read + apps:deploy
      const app = await ok<AppBody>(full, { method: 'POST', url: '/apps', payload: { name: 'full-app', cluster_id: clusterId, type: 'airflow', image: IMAGE_V1 } }, 201);
      expect((await pollStatus<JobBody>(full, `/jobs/${app.active_job_id ?? ''}`, FINISHED)).status).toBe('succeeded');
      expect((await get<HealthBody>(full, `/apps/${app.id}/health`)).status).toBe('healthy');
      const deploy = await ok<{ deploy: DeployBody; job: JobBody }>(full, { method: 'POST', url: `/apps/${app.id}/deploys`, payload: { image: IMAGE_V2 } }, 202);
      expect((await pollStatus<JobBody>(full, `/jobs/${deploy.job.id}`, FINISHED)).status).toBe('succeeded');
      const dags = await ok<{ job: JobBody }>(full, { method: 'POST', url: `/apps/${app.id}/dags`, dags: true }, 202);
      expect((await pollStatus<JobBody>(full, `/jobs/${dags.job.id}`, FINISHED)).status).toBe('succeeded');
      await ok<{ token: string }>(full, { method: 'POST', url: `/apps/${app.id}/registry-token` });

      // terminal:exec, and the routes that need `full`
      await ok<{ token: string }>(full, { method: 'POST', url: `/clusters/${clusterId}/terminal`, payload: {} }, 201);
      expect((await get<Page<{ id: string }>>(full, '/api-keys')).data.map((key) => key.id)).toContain(created.id);
      await get<{ plan: string }>(full, '/billing');

      const rows = await counts();
      await expectUserOnly(full, [
        ...userOnlyAttempts(clusterId),
        { method: 'DELETE', url: `/api-keys/${created.id}` },
        { method: 'POST', url: '/billing/portal-session', payload: {} },
      ]);
      expect(await counts()).toEqual(rows);
      expect((await get<{ revoked_at: string | null }>(user.auth, `/api-keys/${created.id}`)).revoked_at).toBeNull();
    });
  });
});
