import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloud, createCluster, waitForJob, type JobBody } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';

const CREATE_STEPS = ['validate-cloud-credentials', 'create-network', 'create-control-plane', 'configure-cluster-access', 'install-system-components'];

async function getJson<T>(h: Harness, account: Account, url: string): Promise<T> {
  const response = await h.inject({ method: 'GET', url, headers: account.auth });
  expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
  return response.json() as T;
}

interface ClusterBody {
  id: string;
  status: string;
  status_reason: string | null;
  kubernetes_version: string;
  endpoint: string | null;
  active_job_id: string | null;
}

describe(`job lifecycle (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    account = await h.newAccount();
  });
  afterAll(async () => h.close());

  it('runs a cluster create through every step to running', async () => {
    const { clusterId, jobId } = await createCluster(h, account);
    const job = await waitForJob(h, account, jobId);
    expect(job.status).toBe('succeeded');
    expect(job.error).toBeNull();
    expect(job.steps.map((s) => [s.name, s.status])).toEqual(CREATE_STEPS.map((name) => [name, 'succeeded']));
    // Logs come in order and carry the step that wrote them.
    expect(job.logs.length).toBeGreaterThan(CREATE_STEPS.length);
    expect(job.logs.some((line) => line.step === 'create-control-plane' && /control plane healthy/.test(line.message))).toBe(true);
    const cluster = await getJson<ClusterBody>(h, account, `/clusters/${clusterId}`);
    expect(cluster).toMatchObject({ status: 'running', active_job_id: null, status_reason: null });
    expect(cluster.endpoint).toMatch(/^https:\/\/cls-[0-9a-z]+\.k8s\.simulated\.skaledata\.local$/);
  });

  it('fails a job at an injected step, skips the rest and marks the cluster failed', async () => {
    const { clusterId, jobId } = await createCluster(h, account, { name: 'x-simfail-create-control-plane' });
    const job = await waitForJob(h, account, jobId);
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('step_failed');
    expect(job.error?.message).toContain('create-control-plane');
    expect(job.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'failed', 'skipped', 'skipped']);
    expect(job.logs.some((line) => line.level === 'error')).toBe(true);
    const cluster = await getJson<ClusterBody>(h, account, `/clusters/${clusterId}`);
    expect(cluster.status).toBe('failed');
    expect(cluster.status_reason).toContain('control plane');
    expect(cluster.active_job_id).toBeNull();

    // A failed cluster can be destroyed.
    const destroy = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers: account.auth });
    expect(destroy.statusCode).toBe(202);
    const destroyJob = await waitForJob(h, account, (destroy.json() as { job: { id: string } }).job.id);
    expect(destroyJob.status).toBe('succeeded');
    expect((await getJson<ClusterBody>(h, account, `/clusters/${clusterId}`)).status).toBe('deleted');
  });

  it('refuses to cancel a finished job with 409', async () => {
    const { jobId } = await createCluster(h, account, { wait: true });
    const response = await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ code: 'conflict' });
  });

  it('upgrades one minor version and refuses operations while busy', async () => {
    const { clusterId } = await createCluster(h, account, { wait: true });
    const upgrade = await h.inject({ method: 'POST', url: `/clusters/${clusterId}/upgrade`, headers: account.auth, payload: { kubernetes_version: '1.33' } });
    expect(upgrade.statusCode).toBe(202);
    const body = upgrade.json() as { cluster: ClusterBody; job: JobBody };
    expect(body.cluster.status).toBe('upgrading');
    expect(body.cluster.active_job_id).toBe(body.job.id);

    // The cluster is held by the upgrade: a second operation is a conflict naming the job.
    const destroy = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers: account.auth });
    expect(destroy.statusCode).toBe(409);
    expect(destroy.json()).toMatchObject({ code: 'conflict', active_job_id: body.job.id });
    const pool = await h.inject({
      method: 'POST',
      url: `/clusters/${clusterId}/node-pools`,
      headers: account.auth,
      payload: { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 1 },
    });
    expect(pool.statusCode).toBe(409);

    expect((await waitForJob(h, account, body.job.id)).status).toBe('succeeded');
    const cluster = await getJson<ClusterBody>(h, account, `/clusters/${clusterId}`);
    expect(cluster).toMatchObject({ status: 'running', kubernetes_version: '1.33', active_job_id: null });

    const again = await h.inject({ method: 'POST', url: `/clusters/${clusterId}/upgrade`, headers: account.auth, payload: { kubernetes_version: '1.33' } });
    expect(again.statusCode).toBe(400);
    expect(again.json()).toMatchObject({ code: 'validation_failed', errors: [{ path: 'kubernetes_version' }] });
  });

  it('adds, resizes and removes a node pool; destroy takes the pools with it', async () => {
    const { clusterId, cloudId } = await createCluster(h, account, { wait: true });
    const add = await h.inject({
      method: 'POST',
      url: `/clusters/${clusterId}/node-pools`,
      headers: account.auth,
      payload: { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 5, desired_size: 2 },
    });
    expect(add.statusCode).toBe(202);
    const added = add.json() as { node_pool: { id: string; status: string }; job: JobBody };
    expect(added.node_pool.status).toBe('provisioning');
    expect((await waitForJob(h, account, added.job.id)).status).toBe('succeeded');
    const poolUrl = `/clusters/${clusterId}/node-pools/${added.node_pool.id}`;
    expect(await getJson(h, account, poolUrl)).toMatchObject({ status: 'running', current_size: 2, desired_size: 2 });

    const badResize = await h.inject({ method: 'PATCH', url: poolUrl, headers: account.auth, payload: { desired_size: 9 } });
    expect(badResize.statusCode).toBe(400);
    expect(badResize.json()).toMatchObject({ errors: [{ path: 'desired_size' }] });

    const resize = await h.inject({ method: 'PATCH', url: poolUrl, headers: account.auth, payload: { desired_size: 4 } });
    expect(resize.statusCode).toBe(202);
    expect((resize.json() as { node_pool: { status: string } }).node_pool.status).toBe('resizing');
    expect((await waitForJob(h, account, (resize.json() as { job: { id: string } }).job.id)).status).toBe('succeeded');
    expect(await getJson(h, account, poolUrl)).toMatchObject({ status: 'running', current_size: 4, desired_size: 4, min_size: 1, max_size: 5 });

    // The pods follow the nodes: one kube-proxy per node.
    const pods = await getJson<{ data: Array<{ name: string; node: string }> }>(h, account, `/clusters/${clusterId}/pods`);
    expect(pods.data.filter((pod) => pod.name.startsWith('kube-proxy-'))).toHaveLength(4);

    // The cloud is in use: it cannot be removed yet.
    const cloudDelete = await h.inject({ method: 'DELETE', url: `/clouds/${cloudId}`, headers: account.auth });
    expect(cloudDelete.statusCode).toBe(409);

    const destroy = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers: account.auth });
    expect(destroy.statusCode).toBe(202);
    expect((await waitForJob(h, account, (destroy.json() as { job: { id: string } }).job.id)).status).toBe('succeeded');
    expect(await getJson(h, account, poolUrl)).toMatchObject({ status: 'deleted', current_size: 0 });
    const list = await getJson<{ data: Array<{ id: string }> }>(h, account, '/clusters');
    expect(list.data.map((c) => c.id)).not.toContain(clusterId);
    const deletedList = await getJson<{ data: Array<{ id: string }> }>(h, account, '/clusters?status=deleted');
    expect(deletedList.data.map((c) => c.id)).toContain(clusterId);
    expect((await h.inject({ method: 'DELETE', url: `/clouds/${cloudId}`, headers: account.auth })).statusCode).toBe(204);
    expect((await h.inject({ method: 'GET', url: `/clouds/${cloudId}`, headers: account.auth })).statusCode).toBe(404);
  });

  it('keeps a resize failure from changing the pool sizes', async () => {
    const { clusterId } = await createCluster(h, account, { wait: true });
    const add = await h.inject({
      method: 'POST',
      url: `/clusters/${clusterId}/node-pools`,
      headers: account.auth,
      payload: { name: 'np-simfail-update-node-group', instance_type: 'm6i.large', min_size: 1, max_size: 5, desired_size: 2 },
    });
    const added = add.json() as { node_pool: { id: string }; job: { id: string } };
    expect((await waitForJob(h, account, added.job.id)).status).toBe('succeeded');
    const poolUrl = `/clusters/${clusterId}/node-pools/${added.node_pool.id}`;
    const resize = await h.inject({ method: 'PATCH', url: poolUrl, headers: account.auth, payload: { desired_size: 3 } });
    const job = await waitForJob(h, account, (resize.json() as { job: { id: string } }).job.id);
    expect(job.status).toBe('failed');
    const pool = await getJson<{ status: string; desired_size: number; current_size: number; status_reason: string }>(h, account, poolUrl);
    expect(pool).toMatchObject({ status: 'running', desired_size: 2, current_size: 2 });
    expect(pool.status_reason).toMatch(/^Resize failed/);
    expect(await getJson(h, account, `/clusters/${clusterId}`)).toMatchObject({ active_job_id: null, status: 'running' });
  });

  it('settles node pools when a destroy fails after removing them', async () => {
    const { clusterId } = await createCluster(h, account, { name: 'd-simfail-delete-control-plane', wait: true });
    const add = await h.inject({
      method: 'POST',
      url: `/clusters/${clusterId}/node-pools`,
      headers: account.auth,
      payload: { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 1 },
    });
    const added = add.json() as { node_pool: { id: string }; job: { id: string } };
    expect((await waitForJob(h, account, added.job.id)).status).toBe('succeeded');
    const destroy = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers: account.auth });
    const job = await waitForJob(h, account, (destroy.json() as { job: { id: string } }).job.id);
    expect(job.status).toBe('failed');
    expect(job.steps.find((step) => step.name === 'delete-node-pools')?.status).toBe('succeeded');
    expect(await getJson(h, account, `/clusters/${clusterId}`)).toMatchObject({ status: 'failed', active_job_id: null });
    // The pools were removed before the failure: they are gone, not stuck in 'deleting'.
    expect(await getJson(h, account, `/clusters/${clusterId}/node-pools/${added.node_pool.id}`)).toMatchObject({ status: 'deleted' });
  });

  it('filters jobs by resource, type and status', async () => {
    const other = await h.newAccount();
    const { clusterId, jobId } = await createCluster(h, other, { wait: true });
    const byResource = await getJson<{ data: Array<{ id: string }> }>(h, other, `/jobs?resource_id=${clusterId}`);
    expect(byResource.data.map((j) => j.id)).toEqual([jobId]);
    expect((await getJson<{ data: unknown[] }>(h, other, '/jobs?type=cluster.create&status=succeeded')).data).toHaveLength(1);
    expect((await getJson<{ data: unknown[] }>(h, other, '/jobs?status=failed')).data).toHaveLength(0);
    expect((await getJson<{ data: unknown[] }>(h, other, '/jobs?type=cluster.upgrade')).data).toHaveLength(0);
  });
});

describe(`cancellation (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  beforeAll(async () => {
    // Slow steps, so a test can catch a job while it runs.
    h = await startHarness({ runJobs: false, env: { SIMULATED_STEP_MS: '150' } });
    account = await h.newAccount();
  });
  afterAll(async () => h.close());

  it('cancels a queued job at once and puts the cluster back as if it never ran', async () => {
    const { clusterId, jobId } = await createCluster(h, account);
    const cancel = await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth });
    expect(cancel.statusCode).toBe(200);
    const job = cancel.json() as JobBody;
    expect(job.status).toBe('canceled');
    expect(job.steps.every((step) => step.status === 'canceled')).toBe(true);
    expect(await getJson(h, account, `/clusters/${clusterId}`)).toMatchObject({ status: 'deleted', active_job_id: null });
    // The runner never picks it up afterwards.
    await h.app.jobRunner.start();
    await h.app.jobRunner.tick();
    expect((await getJson<JobBody>(h, account, `/jobs/${jobId}`)).status).toBe('canceled');
    await h.app.jobRunner.stop();
  });

  it('cancels a queued destroy and leaves the cluster running', async () => {
    await h.app.jobRunner.start();
    const { clusterId } = await createCluster(h, account, { wait: true });
    await h.app.jobRunner.stop();
    const destroy = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers: account.auth });
    const jobId = (destroy.json() as { job: { id: string } }).job.id;
    const cancel = await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth });
    expect(cancel.statusCode).toBe(200);
    expect(await getJson(h, account, `/clusters/${clusterId}`)).toMatchObject({ status: 'running', active_job_id: null });
  });

  it('puts every pool back to its own status when a queued destroy is canceled', async () => {
    await h.app.jobRunner.start();
    let clusterId: string;
    const pools: Record<string, string> = {};
    try {
      ({ clusterId } = await createCluster(h, account, { wait: true }));
      for (const name of ['good', 'bad-simfail-create-node-group']) {
        const add = await h.inject({
          method: 'POST',
          url: `/clusters/${clusterId}/node-pools`,
          headers: account.auth,
          payload: { name, instance_type: 'm6i.large', min_size: 0, max_size: 2, desired_size: 1 },
        });
        const added = add.json() as { node_pool: { id: string }; job: { id: string } };
        pools[name] = added.node_pool.id;
        await waitForJob(h, account, added.job.id);
      }
    } finally {
      await h.app.jobRunner.stop();
    }
    const destroy = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers: account.auth });
    const jobId = (destroy.json() as { job: { id: string } }).job.id;
    expect(await getJson(h, account, `/clusters/${clusterId}/node-pools/${pools.good}`)).toMatchObject({ status: 'deleting' });
    expect((await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth })).statusCode).toBe(200);
    expect(await getJson(h, account, `/clusters/${clusterId}/node-pools/${pools.good}`)).toMatchObject({ status: 'running' });
    expect(await getJson(h, account, `/clusters/${clusterId}/node-pools/${pools['bad-simfail-create-node-group']}`)).toMatchObject({ status: 'failed' });
  });

  it('stops a running create before its next step, rolls back and deletes the cluster', async () => {
    await h.app.jobRunner.start();
    try {
      const { clusterId, jobId } = await createCluster(h, account);
      // Wait until the job is inside its second step.
      await waitFor(async () => {
        const job = await getJson<JobBody>(h, account, `/jobs/${jobId}`);
        return job.steps[1]?.status === 'running' ? job : undefined;
      });
      const cancel = await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth });
      expect(cancel.statusCode).toBe(202);
      expect((cancel.json() as JobBody).cancel_requested_at).not.toBeNull();
      const job = await waitForJob(h, account, jobId);
      expect(job.status).toBe('canceled');
      expect(job.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'canceled', 'canceled', 'canceled']);
      expect(job.logs.some((line) => /cancel requested; stopping before step create-control-plane/.test(line.message))).toBe(true);
      expect(job.logs.some((line) => /rolling back create-network/.test(line.message))).toBe(true);
      expect(await getJson(h, account, `/clusters/${clusterId}`)).toMatchObject({ status: 'deleted', active_job_id: null });
    } finally {
      await h.app.jobRunner.stop();
    }
  });

  it('stops a running upgrade and keeps the cluster on its version', async () => {
    await h.app.jobRunner.start();
    try {
      const { clusterId } = await createCluster(h, account, { wait: true });
      const upgrade = await h.inject({ method: 'POST', url: `/clusters/${clusterId}/upgrade`, headers: account.auth, payload: { kubernetes_version: '1.33' } });
      const jobId = (upgrade.json() as { job: { id: string } }).job.id;
      await waitFor(async () => {
        const job = await getJson<JobBody>(h, account, `/jobs/${jobId}`);
        return job.steps[0]?.status === 'running' ? job : undefined;
      });
      expect((await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth })).statusCode).toBe(202);
      expect((await waitForJob(h, account, jobId)).status).toBe('canceled');
      const cluster = await getJson<ClusterBody>(h, account, `/clusters/${clusterId}`);
      expect(cluster).toMatchObject({ status: 'running', kubernetes_version: '1.32', active_job_id: null });
      expect(cluster.status_reason).toMatch(/canceled/);
    } finally {
      await h.app.jobRunner.stop();
    }
  });

  it('does not cancel a job whose type this instance does not know (a newer one, mid-upgrade): 503, and the job stays queued', async () => {
    const { jobId, clusterId } = await createCluster(h, account);
    // As a newer version would have queued it: a type this build has no handler for.
    await h.deps.database.db.updateTable('jobs').set({ type: 'cluster.rebalance' }).where('id', '=', jobId).execute();
    const response = await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: account.auth });
    expect(response.statusCode, response.body).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toMatchObject({ code: 'service_unavailable' });
    const job = await h.deps.database.db.selectFrom('jobs').select(['status']).where('id', '=', jobId).executeTakeFirstOrThrow();
    expect(job.status).toBe('queued');
    expect((await getJson<ClusterBody>(h, account, `/clusters/${clusterId}`)).active_job_id).toBe(jobId);
  });

  it('lets another account cancel nothing', async () => {
    const { jobId } = await createCluster(h, account);
    const stranger = await h.newAccount();
    const response = await h.inject({ method: 'POST', url: `/jobs/${jobId}/cancel`, headers: stranger.auth });
    expect(response.statusCode).toBe(404);
    expect((await getJson<JobBody>(h, account, `/jobs/${jobId}`)).status).toBe('queued');
  });
});

describe(`pods and logs (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  let clusterId: string;
  let baseUrl: string;
  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    account = await h.newAccount();
    ({ clusterId } = await createCluster(h, account, { wait: true }));
    baseUrl = await h.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => h.close());

  it('refuses pods of a cluster that is not running', async () => {
    const cloudId = await createCloud(h, account, 'pods-cloud');
    const pending = await h.inject({ method: 'POST', url: '/clusters', headers: account.auth, payload: { name: 'pending-one', cloud_id: cloudId } });
    const id = (pending.json() as { cluster: { id: string } }).cluster.id;
    const response = await h.inject({ method: 'GET', url: `/clusters/${id}/pods`, headers: account.auth });
    expect(response.statusCode).toBe(409);
  });

  it('lists pods and returns the last N log lines as text', async () => {
    const pods = await getJson<{ data: Array<{ name: string; namespace: string }> }>(h, account, `/clusters/${clusterId}/pods`);
    const coredns = pods.data.find((pod) => pod.name.startsWith('coredns-'));
    expect(coredns?.namespace).toBe('kube-system');
    const logs = await h.inject({ method: 'GET', url: `/clusters/${clusterId}/pods/${coredns?.name}/logs?tail=5`, headers: account.auth });
    expect(logs.statusCode).toBe(200);
    expect(logs.headers['content-type']).toMatch(/^text\/plain/);
    const lines = logs.body.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[4]).toContain(coredns?.name);
    const missing = await h.inject({ method: 'GET', url: `/clusters/${clusterId}/pods/no-such-pod/logs`, headers: account.auth });
    expect(missing.statusCode).toBe(404);
  });

  it('pages the pod list by name', async () => {
    const all = await getJson<{ data: Array<{ name: string }>; next_cursor: string | null }>(h, account, `/clusters/${clusterId}/pods`);
    expect(all.next_cursor).toBeNull();
    const names: string[] = [];
    let url = `/clusters/${clusterId}/pods?limit=1`;
    for (;;) {
      const page = await getJson<{ data: Array<{ name: string }>; next_cursor: string | null }>(h, account, url);
      names.push(...page.data.map((pod) => pod.name));
      if (page.next_cursor === null) break;
      url = `/clusters/${clusterId}/pods?limit=1&cursor=${page.next_cursor}`;
    }
    expect(names).toEqual(all.data.map((pod) => pod.name));
    expect(names).toEqual([...names].sort());
  });

  it('ends a followed stream within seconds once its API key is revoked', async () => {
    const { id: keyId, key } = await h.createKey(account, ['clusters:read']);
    const pods = await getJson<{ data: Array<{ name: string }> }>(h, account, `/clusters/${clusterId}/pods`);
    const response = await fetch(`${baseUrl}/clusters/${clusterId}/pods/${pods.data[0]?.name ?? ''}/logs?tail=1&follow=true`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    expect((await reader?.read())?.done).toBe(false);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${keyId}`, headers: account.auth })).statusCode).toBe(204);
    const revokedAt = Date.now();
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      if (Date.now() - revokedAt > 10_000) throw new Error('the stream kept going after the key was revoked');
    }
    // The stream re-checks credentials every 2 s (the margin is for a loaded machine).
    expect(Date.now() - revokedAt).toBeLessThan(6_000);
  });

  it('streams new lines with follow=true until the client leaves', async () => {
    const pods = await getJson<{ data: Array<{ name: string }> }>(h, account, `/clusters/${clusterId}/pods`);
    const pod = pods.data[0]?.name ?? '';
    const controller = new AbortController();
    const response = await fetch(`${baseUrl}/clusters/${clusterId}/pods/${pod}/logs?tail=1&follow=true`, {
      headers: account.auth,
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = response.body?.getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (reader && text.split('\n').length < 4) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value);
    }
    controller.abort();
    // The one tail line, then lines that did not exist when the request began.
    const lines = text.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toContain('log line 499');
    expect(lines[1]).toContain('log line 500');
  });
});
