import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import {
  appIdRoutes,
  comparable,
  createApp,
  firstDeploy,
  getJson,
  IMAGE_V1,
  postApp,
  runUntilFinished,
  snapshot,
  uniqueName,
  type AppBody,
  type DeployBody,
  type HealthBody,
} from '../helpers/apps-fixtures.js';
import { createCluster, waitForJob, type JobBody } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/** Applications (issue 3 item 1): create, list, get, update, restart, delete, health. */

const AIRFLOW_CHECKS = ['scheduler', 'webserver', 'triggerer', 'metadata-database'];
const SERVICE_CHECKS = ['readiness', 'liveness'];

type Accepted = { app: AppBody; job: JobBody };

describe(`apps (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  let clusterId: string;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    account = await h.newAccount();
    ({ clusterId } = await createCluster(h, account, { wait: true }));
  });
  afterAll(async () => h.close());

  it('creates an app without an image: 201, pending, nothing queued', async () => {
    const name = uniqueName('svc');
    const response = await postApp(h, account.auth, { name, cluster_id: clusterId, type: 'service' });
    expect(response.statusCode).toBe(201);
    const app = response.json() as AppBody;
    expect(app).toMatchObject({
      cluster_id: clusterId,
      name,
      type: 'service',
      image: null,
      status: 'pending',
      status_reason: null,
      config: { replicas: 1, port: 8080 },
      current_deploy_id: null,
      active_job_id: null,
      created_by: account.userId,
      deleted_at: null,
    });
    expect(app.id).toMatch(/^app_[0-9A-Za-z]{25}$/);
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toEqual(app);
    expect((await getJson<{ data: DeployBody[] }>(h, account.auth, `/apps/${app.id}/deploys`)).data).toEqual([]);
    const jobs = await getJson<{ data: unknown[] }>(h, account.auth, `/jobs?resource_id=${app.id}`);
    expect(jobs.data).toEqual([]);

    const airflow = await createApp(h, account, clusterId, { type: 'airflow', config: { replicas: 3 } });
    expect(airflow.config).toEqual({ replicas: 3 });
  });

  it('creates an app with an image: its first deploy rolls out and the app serves it', async () => {
    const app = await createApp(h, account, clusterId, { type: 'airflow', image: IMAGE_V1 });
    expect(app.status).toBe('deploying');
    expect(app.image).toBeNull();
    expect(app.active_job_id).toMatch(/^job_/);
    const deploy = await firstDeploy(h, account, app.id);
    expect(deploy).toMatchObject({ app_id: app.id, image: IMAGE_V1, job_id: app.active_job_id, previous_image: null, created_by: account.userId });

    const job = await waitForJob(h, account, app.active_job_id ?? '');
    expect(job).toMatchObject({ type: 'app.deploy', status: 'succeeded', resource_type: 'app', resource_id: app.id, cluster_id: clusterId });
    expect(job.steps.map((step) => step.name)).toEqual(['pull-image', 'migrate-airflow-database', 'apply-manifests', 'wait-for-rollout']);

    const served = await getJson<AppBody>(h, account.auth, `/apps/${app.id}`);
    expect(served).toMatchObject({ status: 'running', image: IMAGE_V1, current_deploy_id: deploy.id, active_job_id: null, status_reason: null });
    const done = await getJson<DeployBody>(h, account.auth, `/apps/${app.id}/deploys/${deploy.id}`);
    expect(done).toMatchObject({ status: 'succeeded', error: null });
    expect(done.finished_at).not.toBeNull();
  });

  it('refuses bad input with 400 naming the field, and stores nothing', async () => {
    const before = await snapshot(h, account.accountId);
    const base = { name: 'good-name', cluster_id: clusterId, type: 'service' };
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ ...base, name: 'Bad_Name' }, 'name', /invalid format/],
      [{ ...base, name: '-leading' }, 'name', /invalid format/],
      [{ ...base, name: 'trailing-' }, 'name', /invalid format/],
      [{ ...base, name: '' }, 'name', /must not be empty/],
      [{ ...base, name: 'a'.repeat(41) }, 'name', /at most 40/],
      [{ ...base, name: 42 }, 'name', /must be string/],
      [{ ...base, type: 'worker' }, 'type', /must be one of: airflow, service/],
      [{ name: 'x', cluster_id: clusterId }, 'type', /is required/],
      [{ name: 'x', type: 'service' }, 'cluster_id', /is required/],
      [{ ...base, cluster_id: 'cls/../x' }, 'cluster_id', /invalid format/],
      [{ ...base, image: 'nginx' }, 'image', /"latest" is never assumed/],
      [{ ...base, image: 'Team/App:1' }, 'image', /must be lowercase/],
      [{ ...base, image: 'team/app@sha256:abc' }, 'image', /digest must be "sha256:"/],
      [{ ...base, image: `r.io/${'a'.repeat(260)}:1` }, 'image', /at most 255/],
      [{ ...base, config: { replicas: 0 } }, 'config.replicas', /at least 1/],
      [{ ...base, config: { replicas: 21 } }, 'config.replicas', /at most 20/],
      [{ ...base, config: { replicas: 1.5 } }, 'config.replicas', /must be integer/],
      [{ ...base, config: { port: 70000 } }, 'config.port', /at most 65535/],
      [{ ...base, type: 'airflow', config: { port: 8080 } }, 'config.port', /applies to service apps only/],
      [{ ...base, config: { cpu: 2 } }, 'config.cpu', /is not a known field/],
      [{ ...base, account_id: 'someone-else' }, 'account_id', /is not a known field/],
      [{ ...base, status: 'running' }, 'status', /is not a known field/],
    ];
    for (const [payload, path, message] of cases) {
      const response = await postApp(h, account.auth, payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = response.json() as Problem;
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors?.[0]?.path, JSON.stringify(payload)).toBe(path);
      expect(problem.errors?.[0]?.message, JSON.stringify(payload)).toMatch(message);
    }
    for (const query of ['type=worker', 'status=gone', 'limit=0', 'limit=201', 'cursor=nope', 'cluster_id=a%20b', 'owner=me']) {
      const response = await h.inject({ method: 'GET', url: `/apps?${query}`, headers: account.auth });
      expect(response.statusCode, query).toBe(400);
    }
    expect(await snapshot(h, account.accountId)).toEqual(before);
  });

  it('answers 404 for a cluster that does not exist, 409 for a name already taken on the cluster', async () => {
    const missing = newId('cluster');
    const notFound = await postApp(h, account.auth, { name: 'orphan', cluster_id: missing, type: 'service' });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json()).toMatchObject({ code: 'not_found', detail: `No cluster with id ${missing}.` });

    const first = await createApp(h, account, clusterId);
    const before = await snapshot(h, account.accountId);
    const duplicate = await postApp(h, account.auth, { name: first.name, cluster_id: clusterId, type: 'airflow', image: IMAGE_V1 });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.json()).toMatchObject({ code: 'conflict', detail: `Cluster ${clusterId} already has an app named "${first.name}".` });
    // The refused create queued no deploy and no job.
    expect(await snapshot(h, account.accountId)).toEqual(before);

    // Names are unique per cluster, not per account.
    const { clusterId: otherCluster } = await createCluster(h, account, { wait: true });
    const elsewhere = await postApp(h, account.auth, { name: first.name, cluster_id: otherCluster, type: 'service' });
    expect(elsewhere.statusCode).toBe(201);
  });

  it('lists apps newest first, filters them and pages with a cursor', async () => {
    const other = await h.newAccount();
    const { clusterId: c1 } = await createCluster(h, other, { wait: true });
    const { clusterId: c2 } = await createCluster(h, other, { wait: true });
    const a = await createApp(h, other, c1, { type: 'airflow' });
    const b = await createApp(h, other, c1, { type: 'service' });
    const c = await createApp(h, other, c2, { type: 'service' });
    const ids = async (query: string) => (await getJson<{ data: AppBody[] }>(h, other.auth, `/apps${query}`)).data.map((app) => app.id);
    expect(await ids('')).toEqual([c.id, b.id, a.id]);
    expect(await ids(`?cluster_id=${c1}`)).toEqual([b.id, a.id]);
    expect(await ids('?type=service')).toEqual([c.id, b.id]);
    expect(await ids(`?type=airflow&cluster_id=${c2}`)).toEqual([]);
    expect(await ids('?status=pending')).toEqual([c.id, b.id, a.id]);
    expect(await ids('?status=running')).toEqual([]);

    const page1 = await getJson<{ data: AppBody[]; next_cursor: string | null }>(h, other.auth, '/apps?limit=2');
    expect(page1.data.map((app) => app.id)).toEqual([c.id, b.id]);
    expect(page1.next_cursor).not.toBeNull();
    const page2 = await getJson<{ data: AppBody[]; next_cursor: string | null }>(h, other.auth, `/apps?limit=2&cursor=${page1.next_cursor ?? ''}`);
    expect(page2).toEqual({ data: [expect.objectContaining({ id: a.id })], next_cursor: null });
  });

  it('updates name and settings; refuses empty, misplaced and clashing changes', async () => {
    const app = await createApp(h, account, clusterId, { config: { replicas: 2, port: 9000 } });
    const url = `/apps/${app.id}`;
    const renamed = uniqueName('renamed');
    const patch = await h.inject({ method: 'PATCH', url, headers: account.auth, payload: { name: renamed, config: { replicas: 5 } } });
    expect(patch.statusCode).toBe(200);
    expect(patch.json()).toMatchObject({ id: app.id, name: renamed, config: { replicas: 5, port: 9000 }, status: 'pending' });

    for (const [payload, path] of [
      [{}, 'body'],
      [{ config: {} }, 'config'],
      [{ type: 'airflow' }, 'type'],
      [{ cluster_id: clusterId }, 'cluster_id'],
      [{ image: IMAGE_V1 }, 'image'],
      [{ config: { replicas: 99 } }, 'config.replicas'],
    ] as const) {
      const response = await h.inject({ method: 'PATCH', url, headers: account.auth, payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect((response.json() as Problem).errors?.[0]?.path).toBe(path);
    }
    const airflow = await createApp(h, account, clusterId, { type: 'airflow' });
    const port = await h.inject({ method: 'PATCH', url: `/apps/${airflow.id}`, headers: account.auth, payload: { config: { port: 80 } } });
    expect(port.statusCode).toBe(400);
    expect((port.json() as Problem).errors).toEqual([{ path: 'config.port', message: 'applies to service apps only' }]);

    const clash = await h.inject({ method: 'PATCH', url: `/apps/${airflow.id}`, headers: account.auth, payload: { name: renamed } });
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toMatchObject({ code: 'conflict', detail: `Cluster ${clusterId} already has an app named "${renamed}".` });
    expect(await getJson<AppBody>(h, account.auth, `/apps/${airflow.id}`)).toMatchObject({ name: airflow.name });
  });

  it('restarts a running app; refuses while it is not running', async () => {
    const pending = await createApp(h, account, clusterId);
    const refused = await h.inject({ method: 'POST', url: `/apps/${pending.id}/restart`, headers: account.auth });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'conflict', detail: `App ${pending.id} is pending; to restart it, it must be running.`, app_status: 'pending' });

    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    expect((await waitForJob(h, account, app.active_job_id ?? '')).status).toBe('succeeded');
    const restart = await h.inject({ method: 'POST', url: `/apps/${app.id}/restart`, headers: account.auth });
    expect(restart.statusCode).toBe(202);
    const accepted = restart.json() as Accepted;
    expect(accepted.app).toMatchObject({ id: app.id, status: 'restarting', active_job_id: accepted.job.id });
    expect(accepted.job).toMatchObject({ type: 'app.restart', status: 'queued', resource_type: 'app', resource_id: app.id, cluster_id: clusterId });
    expect(accepted.job.steps.map((step) => step.name)).toEqual(['rolling-restart', 'wait-for-rollout']);
    expect((await waitForJob(h, account, accepted.job.id)).status).toBe('succeeded');
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({ status: 'running', image: IMAGE_V1, active_job_id: null });
  });

  it('deletes an app asynchronously: deleted, out of the list, its name free again', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    expect((await waitForJob(h, account, app.active_job_id ?? '')).status).toBe('succeeded');
    const response = await h.inject({ method: 'DELETE', url: `/apps/${app.id}`, headers: account.auth });
    expect(response.statusCode).toBe(202);
    const accepted = response.json() as Accepted;
    expect(accepted.app).toMatchObject({ status: 'deleting', active_job_id: accepted.job.id, deleted_at: null });
    expect(accepted.job).toMatchObject({ type: 'app.delete', resource_type: 'app', resource_id: app.id, cluster_id: clusterId });
    expect((await waitForJob(h, account, accepted.job.id)).status).toBe('succeeded');

    const deleted = await getJson<AppBody>(h, account.auth, `/apps/${app.id}`);
    expect(deleted).toMatchObject({ status: 'deleted', active_job_id: null });
    expect(deleted.deleted_at).not.toBeNull();
    expect((await getJson<{ data: AppBody[] }>(h, account.auth, '/apps')).data.map((a) => a.id)).not.toContain(app.id);
    expect((await getJson<{ data: AppBody[] }>(h, account.auth, '/apps?status=deleted')).data.map((a) => a.id)).toContain(app.id);

    for (const [method, url, payload] of [
      ['DELETE', `/apps/${app.id}`, undefined],
      ['POST', `/apps/${app.id}/restart`, undefined],
      ['POST', `/apps/${app.id}/deploys`, { image: IMAGE_V1 }],
      ['PATCH', `/apps/${app.id}`, { name: 'zombie' }],
    ] as const) {
      const refused = await h.inject({ method, url, headers: account.auth, ...(payload ? { payload } : {}) });
      expect(refused.statusCode, `${method} ${url}`).toBe(409);
      expect((refused.json() as Problem).detail).toContain(`App ${app.id} is deleted`);
    }
    const again = await createApp(h, account, clusterId, { name: app.name });
    expect(again.id).not.toBe(app.id);
  });

  it('reports health from the cluster: unknown, healthy, unhealthy', async () => {
    const pending = await createApp(h, account, clusterId, { type: 'airflow' });
    const unknown = await getJson<HealthBody>(h, account.auth, `/apps/${pending.id}/health`);
    expect(unknown).toMatchObject({ app_id: pending.id, status: 'unknown' });
    expect(unknown.checks.map((check) => [check.name, check.status])).toEqual(AIRFLOW_CHECKS.map((name) => [name, 'unknown']));

    const running = await createApp(h, account, clusterId, { type: 'airflow', image: IMAGE_V1 });
    await waitForJob(h, account, running.active_job_id ?? '');
    const healthy = await getJson<HealthBody>(h, account.auth, `/apps/${running.id}/health`);
    expect(healthy.status).toBe('healthy');
    expect(healthy.checks.map((check) => [check.name, check.status, check.message])).toEqual(AIRFLOW_CHECKS.map((name) => [name, 'pass', 'ok']));
    expect(Date.parse(healthy.checked_at)).not.toBeNaN();

    // A first deploy that fails leaves nothing serving: the app is failed and every check fails.
    const broken = await createApp(h, account, clusterId, { image: 'registry.example.com/team/api:simfail-pull-image' });
    expect((await waitForJob(h, account, broken.active_job_id ?? '')).status).toBe('failed');
    const unhealthy = await getJson<HealthBody>(h, account.auth, `/apps/${broken.id}/health`);
    expect(unhealthy.status).toBe('unhealthy');
    expect(unhealthy.checks.map((check) => [check.name, check.status])).toEqual(SERVICE_CHECKS.map((name) => [name, 'fail']));
  });

  it('keeps a cluster with a live app from being destroyed', async () => {
    const { clusterId: cluster } = await createCluster(h, account, { wait: true });
    const app = await createApp(h, account, cluster);
    const refused = await h.inject({ method: 'DELETE', url: `/clusters/${cluster}`, headers: account.auth });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'conflict', apps: 1 });
    expect(await getJson(h, account.auth, `/clusters/${cluster}`)).toMatchObject({ status: 'running', active_job_id: null });

    const remove = await h.inject({ method: 'DELETE', url: `/apps/${app.id}`, headers: account.auth });
    expect((await waitForJob(h, account, (remove.json() as Accepted).job.id)).status).toBe('succeeded');
    const destroy = await h.inject({ method: 'DELETE', url: `/clusters/${cluster}`, headers: account.auth });
    expect(destroy.statusCode).toBe(202);
    expect((await waitForJob(h, account, (destroy.json() as { job: { id: string } }).job.id)).status).toBe('succeeded');
    // A destroyed cluster takes no new apps.
    const late = await postApp(h, account.auth, { name: uniqueName(), cluster_id: cluster, type: 'service' });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ detail: `Cluster ${cluster} is deleted; apps can be created only on a running cluster.` });
  });

  it('never lets an app creation and a cluster destroy both win when they race', async () => {
    for (let round = 0; round < 4; round++) {
      const { clusterId: cluster } = await createCluster(h, account, { wait: true });
      const [create, destroy] = await Promise.all([
        postApp(h, account.auth, { name: uniqueName('race'), cluster_id: cluster, type: 'service', image: IMAGE_V1 }),
        h.inject({ method: 'DELETE', url: `/clusters/${cluster}`, headers: account.auth }),
      ]);
      expect([create.statusCode, destroy.statusCode].sort(), `round ${round}: ${create.body} ${destroy.body}`).toSatisfy(
        (codes: number[]) => JSON.stringify(codes) === '[201,409]' || JSON.stringify(codes) === '[202,409]',
      );
      const live = (await getJson<{ data: AppBody[] }>(h, account.auth, `/apps?cluster_id=${cluster}`)).data;
      expect(live).toHaveLength(create.statusCode === 201 ? 1 : 0);
      if (destroy.statusCode === 202) await waitForJob(h, account, (destroy.json() as { job: { id: string } }).job.id);
      else await waitForJob(h, account, (create.json() as AppBody).active_job_id ?? '');
    }
  });

  it("answers another account's app ids exactly like missing ones and leaves the app alone", async () => {
    const owner = await h.newAccount();
    const { clusterId: ownerCluster } = await createCluster(h, owner, { wait: true });
    const app = await createApp(h, owner, ownerCluster, { image: IMAGE_V1 });
    await waitForJob(h, owner, app.active_job_id ?? '');
    const deployId = (await firstDeploy(h, owner, app.id)).id;
    const before = await snapshot(h, owner.accountId);
    const ownerView = await getJson<AppBody>(h, owner.auth, `/apps/${app.id}`);

    const intruder = await h.newAccount();
    const intruderKey = await h.createKey(intruder, ['full']);
    const missing = { app: newId('app'), deploy: newId('deploy') };
    for (const headers of [intruder.auth, bearer(intruderKey.key)]) {
      for (const [method, url, payload] of appIdRoutes(app.id, deployId)) {
        const theirs = await h.inject({ method, url, headers, ...(payload ? { payload } : {}) });
        const nothing = await h.inject({ method, url: url.replace(app.id, missing.app).replace(deployId, missing.deploy), headers, ...(payload ? { payload } : {}) });
        expect(theirs.statusCode, `${method} ${url}`).toBe(404);
        expect(comparable(theirs, [app.id, deployId])).toEqual(comparable(nothing, [missing.app, missing.deploy]));
      }
    }
    // Not in the intruder's lists, even when it filters by the owner's cluster; the owner's cluster is not theirs to use.
    expect((await getJson<{ data: AppBody[] }>(h, intruder.auth, '/apps')).data).toEqual([]);
    expect((await getJson<{ data: AppBody[] }>(h, intruder.auth, `/apps?cluster_id=${ownerCluster}`)).data).toEqual([]);
    const squat = await postApp(h, intruder.auth, { name: 'squat', cluster_id: ownerCluster, type: 'service', image: IMAGE_V1 });
    expect(squat.statusCode).toBe(404);
    expect(squat.json()).toMatchObject({ detail: `No cluster with id ${ownerCluster}.` });

    expect(await snapshot(h, owner.accountId)).toEqual(before);
    expect(await getJson<AppBody>(h, owner.auth, `/apps/${app.id}`)).toEqual(ownerView);
    expect(await snapshot(h, intruder.accountId)).toEqual({ apps: [], deploys: [], jobs: 0 });
  });

  it('holds API keys to the seed scopes: apps:read reads, apps:manage changes, neither does the other', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    await waitForJob(h, account, app.active_job_id ?? '');
    const reader = bearer((await h.createKey(account, ['apps:read'])).key);
    const managerKey = await h.createKey(account, ['apps:manage']);
    const manager = bearer(managerKey.key);

    expect((await h.inject({ method: 'GET', url: `/apps/${app.id}`, headers: reader })).statusCode).toBe(200);
    expect((await h.inject({ method: 'GET', url: '/apps', headers: reader })).statusCode).toBe(200);
    expect((await h.inject({ method: 'GET', url: `/apps/${app.id}/health`, headers: reader })).statusCode).toBe(200);
    expect((await h.inject({ method: 'GET', url: `/apps/${app.id}/deploys`, headers: reader })).statusCode).toBe(200);

    const before = await snapshot(h, account.accountId);
    for (const [method, url, payload] of [
      ['POST', '/apps', { name: 'by-reader', cluster_id: clusterId, type: 'service' }],
      ['PATCH', `/apps/${app.id}`, { name: 'by-reader' }],
      ['DELETE', `/apps/${app.id}`, undefined],
      ['POST', `/apps/${app.id}/restart`, undefined],
      ['DELETE', `/apps/${newId('app')}`, undefined],
    ] as const) {
      const response = await h.inject({ method, url, headers: reader, ...(payload ? { payload } : {}) });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json()).toMatchObject({ code: 'insufficient_scope', detail: 'API key missing required scope: apps:manage', required_scope: 'apps:manage' });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="insufficient_scope", scope="apps:manage"');
    }
    for (const url of ['/apps', `/apps/${app.id}`, `/apps/${app.id}/health`, `/apps/${app.id}/deploys`]) {
      const response = await h.inject({ method: 'GET', url, headers: manager });
      expect(response.statusCode, url).toBe(403);
      expect((response.json() as Problem).detail).toBe('API key missing required scope: apps:read');
    }
    expect(await snapshot(h, account.accountId)).toEqual(before);

    const created = await postApp(h, manager, { name: uniqueName('by-key'), cluster_id: clusterId, type: 'service' });
    expect(created.statusCode).toBe(201);
    expect((created.json() as AppBody).created_by).toBe(managerKey.id);
    const restart = await h.inject({ method: 'POST', url: `/apps/${app.id}/restart`, headers: manager });
    expect(restart.statusCode).toBe(202);
    await waitForJob(h, account, (restart.json() as Accepted).job.id);
  });
});

describe(`apps while jobs wait (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  let clusterId: string;

  beforeAll(async () => {
    h = await startHarness({ runJobs: false });
    account = await h.newAccount();
    const created = await createCluster(h, account);
    clusterId = created.clusterId;
    expect((await runUntilFinished(h, account, created.jobId)).status).toBe('succeeded');
  });
  afterAll(async () => h.close());

  it('refuses to create an app on a cluster that is not running', async () => {
    const { clusterId: provisioning } = await createCluster(h, account);
    const before = await snapshot(h, account.accountId);
    const response = await postApp(h, account.auth, { name: uniqueName(), cluster_id: provisioning, type: 'airflow', image: IMAGE_V1 });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({
      code: 'conflict',
      detail: `Cluster ${provisioning} is provisioning; apps can be created only on a running cluster.`,
      cluster_status: 'provisioning',
    });
    expect(await snapshot(h, account.accountId)).toEqual(before);
  });

  it('refuses to create an app on a running cluster held by a job (upgrade)', async () => {
    const upgrade = await h.inject({ method: 'POST', url: `/clusters/${clusterId}/upgrade`, headers: account.auth, payload: { kubernetes_version: '1.33' } });
    expect(upgrade.statusCode).toBe(202);
    const jobId = (upgrade.json() as { job: { id: string } }).job.id;
    const response = await postApp(h, account.auth, { name: uniqueName(), cluster_id: clusterId, type: 'service' });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'conflict', cluster_status: 'upgrading' });
    expect((await runUntilFinished(h, account, jobId)).status).toBe('succeeded');
    expect((await postApp(h, account.auth, { name: uniqueName(), cluster_id: clusterId, type: 'service' })).statusCode).toBe(201);
  });

  it('reports a rolling app as degraded and refuses restart and delete while its deploy waits', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    const health = await getJson<HealthBody>(h, account.auth, `/apps/${app.id}/health`);
    expect(health.status).toBe('degraded');
    expect(health.checks.map((check) => [check.name, check.status, check.message])).toEqual(SERVICE_CHECKS.map((name) => [name, 'warn', 'pods are rolling (deploying)']));

    for (const [method, url] of [
      ['DELETE', `/apps/${app.id}`],
      ['POST', `/apps/${app.id}/restart`],
    ] as const) {
      const response = await h.inject({ method, url, headers: account.auth });
      expect(response.statusCode, `${method} ${url}`).toBe(409);
      expect(response.json()).toMatchObject({ code: 'conflict', active_job_id: app.active_job_id });
      expect((response.json() as Problem).detail).toContain(`busy with job ${app.active_job_id ?? ''} (app.deploy, queued)`);
    }
    expect((await runUntilFinished(h, account, app.active_job_id ?? '')).status).toBe('succeeded');
    expect((await getJson<HealthBody>(h, account.auth, `/apps/${app.id}/health`)).status).toBe('healthy');
  });

  it('puts the app back when its queued delete is canceled', async () => {
    const app = await createApp(h, account, clusterId);
    const remove = await h.inject({ method: 'DELETE', url: `/apps/${app.id}`, headers: account.auth });
    expect(remove.statusCode).toBe(202);
    const jobId = (remove.json() as Accepted).job.id;
    const cancel = await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth });
    expect(cancel.statusCode).toBe(200);
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({ status: 'pending', active_job_id: null, deleted_at: null });
  });
});
