import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import {
  createApp,
  deploy,
  FAILING_ROLLOUT,
  firstDeploy,
  getJson,
  IMAGE_V1,
  IMAGE_V2,
  IMAGE_V3,
  postDeploy,
  runUntilFinished,
  snapshot,
  type AppBody,
  type DeployBody,
  type HealthBody,
} from '../helpers/apps-fixtures.js';
import { createCluster, waitForJob, type JobBody } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/** Deploys (issue 3 item 2): OCI image validation, rollout jobs, history, failure, supersede, one job per app. */

const SHA = `sha256:${'0123456789abcdef'.repeat(4)}`;

describe(`deploys (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  let clusterId: string;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    account = await h.newAccount();
    ({ clusterId } = await createCluster(h, account, { wait: true }));
  });
  afterAll(async () => h.close());

  /** A service app already serving IMAGE_V1. */
  async function servingApp(owner = account, cluster = clusterId): Promise<AppBody> {
    const app = await createApp(h, owner, cluster, { image: IMAGE_V1 });
    expect((await waitForJob(h, owner, app.active_job_id ?? '')).status).toBe('succeeded');
    return getJson<AppBody>(h, owner.auth, `/apps/${app.id}`);
  }

  it('deploys an image: 202 with the deploy and its job, then the app serves it', async () => {
    const app = await servingApp();
    const { deploy: queued, job } = await deploy(h, account, app.id, IMAGE_V2);
    expect(queued).toMatchObject({
      app_id: app.id,
      image: IMAGE_V2,
      status: 'queued',
      job_id: job.id,
      previous_image: IMAGE_V1,
      error: null,
      created_by: account.userId,
      finished_at: null,
    });
    expect(queued.id).toMatch(/^dep_[0-9A-Za-z]{25}$/);
    expect(job).toMatchObject({ type: 'app.deploy', status: 'queued', resource_type: 'app', resource_id: app.id, cluster_id: clusterId });
    expect(job.steps.map((step) => step.name)).toEqual(['pull-image', 'apply-manifests', 'wait-for-rollout']);
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({ active_job_id: job.id });

    const finished = await waitForJob(h, account, job.id);
    expect(finished.status).toBe('succeeded');
    expect(finished.logs.some((line) => line.message === `pulling ${IMAGE_V2}`)).toBe(true);
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({
      status: 'running',
      image: IMAGE_V2,
      current_deploy_id: queued.id,
      active_job_id: null,
      status_reason: null,
    });
    const done = await getJson<DeployBody>(h, account.auth, `/apps/${app.id}/deploys/${queued.id}`);
    expect(done).toMatchObject({ status: 'succeeded', error: null });
    expect(done.finished_at).not.toBeNull();

    // A digest-pinned image is as good as a tag.
    const pinned = `registry.example.com/team/etl@${SHA}`;
    const byDigest = await deploy(h, account, app.id, pinned);
    expect((await waitForJob(h, account, byDigest.job.id)).status).toBe('succeeded');
    expect((await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).image).toBe(pinned);

    const history = await getJson<{ data: DeployBody[]; next_cursor: string | null }>(h, account.auth, `/apps/${app.id}/deploys`);
    expect(history.data.map((d) => [d.image, d.status, d.previous_image])).toEqual([
      [pinned, 'succeeded', IMAGE_V2],
      [IMAGE_V2, 'succeeded', IMAGE_V1],
      [IMAGE_V1, 'succeeded', null],
    ]);
    expect(history.next_cursor).toBeNull();
    const page1 = await getJson<{ data: DeployBody[]; next_cursor: string | null }>(h, account.auth, `/apps/${app.id}/deploys?limit=2`);
    expect(page1.data.map((d) => d.image)).toEqual([pinned, IMAGE_V2]);
    const page2 = await getJson<{ data: DeployBody[]; next_cursor: string | null }>(h, account.auth, `/apps/${app.id}/deploys?limit=2&cursor=${page1.next_cursor ?? ''}`);
    expect(page2.data.map((d) => d.image)).toEqual([IMAGE_V1]);
    expect(page2.next_cursor).toBeNull();
  });

  it('keeps the previous release serving when a rollout fails, and says why', async () => {
    const app = await servingApp();
    const { deploy: failing, job } = await deploy(h, account, app.id, FAILING_ROLLOUT);
    const finished = await waitForJob(h, account, job.id);
    expect(finished.status).toBe('failed');
    expect(finished.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded', 'failed']);
    const reason = 'Step wait-for-rollout failed: new pods did not become ready within the timeout (simulated CrashLoopBackOff)';
    expect(finished.error).toEqual({ code: 'step_failed', message: reason });

    const after = await getJson<AppBody>(h, account.auth, `/apps/${app.id}`);
    expect(after).toMatchObject({
      status: 'running',
      image: IMAGE_V1,
      current_deploy_id: app.current_deploy_id,
      active_job_id: null,
      status_reason: `Deploy ${failing.id} of ${FAILING_ROLLOUT} failed (${reason}); ${IMAGE_V1} is still serving.`,
    });
    const failed = await getJson<DeployBody>(h, account.auth, `/apps/${app.id}/deploys/${failing.id}`);
    expect(failed).toMatchObject({ status: 'failed', error: reason, previous_image: IMAGE_V1 });
    expect(failed.finished_at).not.toBeNull();
    expect((await getJson<HealthBody>(h, account.auth, `/apps/${app.id}/health`)).status).toBe('healthy');

    // The next good deploy clears the reason.
    const fixed = await deploy(h, account, app.id, IMAGE_V2);
    expect((await waitForJob(h, account, fixed.job.id)).status).toBe('succeeded');
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({ status: 'running', image: IMAGE_V2, status_reason: null });
  });

  it('marks the app failed when its first release fails (nothing was serving), and recovers with a good one', async () => {
    const app = await createApp(h, account, clusterId, { type: 'airflow', image: 'registry.example.com/team/etl:simfail-migrate-airflow-database' });
    const job = await waitForJob(h, account, app.active_job_id ?? '');
    expect(job.status).toBe('failed');
    const deployId = (await firstDeploy(h, account, app.id)).id;
    const failed = await getJson<AppBody>(h, account.auth, `/apps/${app.id}`);
    expect(failed).toMatchObject({ status: 'failed', image: null, current_deploy_id: null, active_job_id: null });
    expect(failed.status_reason).toBe(
      `Deploy ${deployId} of registry.example.com/team/etl:simfail-migrate-airflow-database failed (Step migrate-airflow-database failed: step migrate-airflow-database failed (simulated failure)); no earlier release was serving. Deploy a working image.`,
    );
    const good = await deploy(h, account, app.id, IMAGE_V1);
    expect(good.deploy.previous_image).toBeNull();
    expect((await waitForJob(h, account, good.job.id)).status).toBe('succeeded');
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({ status: 'running', image: IMAGE_V1, status_reason: null });
  });

  it('refuses bad image references with a 400 naming image, and queues nothing', async () => {
    const app = await servingApp();
    const before = await snapshot(h, account.accountId);
    const cases: Array<[unknown, RegExp]> = [
      [{ image: 'nginx' }, /^image: needs a tag .*"latest" is never assumed$/],
      [{ image: 'registry.example.com/team/etl' }, /"latest" is never assumed/],
      [{ image: 'registry.example.com/Team/etl:1' }, /^image: repository must be lowercase \("Team"\)$/],
      [{ image: 'registry.example.com/team/etl:-1' }, /^image: tag must be/],
      [{ image: 'registry.example.com/team/etl@sha256:1234' }, /^image: digest must be "sha256:"/],
      [{ image: 'registry.example.com:99999/team/etl:1' }, /^image: registry port "99999"/],
      [{ image: 'team//etl:1' }, /^image: repository has an empty path component/],
      [{ image: 'team/etl:1; rm -rf /' }, /^image: must be printable ASCII without spaces$/],
      [{ image: `r.io/${'a'.repeat(300)}:1` }, /^image: must be at most 255 characters$/],
      [{ image: '' }, /^image: must not be empty$/],
      [{ image: 7 }, /^image: must be string$/],
      [{}, /^image: is required$/],
      [{ image: IMAGE_V2, force: true }, /^force: is not a known field$/],
    ];
    for (const [payload, detail] of cases) {
      const response = await h.inject({ method: 'POST', url: `/apps/${app.id}/deploys`, headers: account.auth, payload: payload as Record<string, unknown> });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      const problem = response.json() as Problem;
      expect(problem.code).toBe('validation_failed');
      expect(problem.detail, JSON.stringify(payload)).toMatch(detail);
    }
    // Validation comes before lookup (CONTRACT §2 step 5): a bad image on a missing app is still a 400.
    expect((await postDeploy(h, account.auth, newId('app'), 'nginx')).statusCode).toBe(400);
    for (const query of ['limit=0', 'limit=201', 'cursor=%00', 'status=queued']) {
      expect((await h.inject({ method: 'GET', url: `/apps/${app.id}/deploys?${query}`, headers: account.auth })).statusCode, query).toBe(400);
    }
    expect((await h.inject({ method: 'GET', url: `/apps/${app.id}/deploys/not%20an%20id`, headers: account.auth })).statusCode).toBe(400);
    expect(await snapshot(h, account.accountId)).toEqual(before);
  });

  it('answers 404 for deploys that are not under the app in the path', async () => {
    const a = await servingApp();
    const b = await servingApp();
    const bDeploy = (await firstDeploy(h, account, b.id)).id;
    const response = await h.inject({ method: 'GET', url: `/apps/${a.id}/deploys/${bDeploy}`, headers: account.auth });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'not_found', detail: `No deploy with id ${bDeploy}.` });
    const missingApp = newId('app');
    const onMissing = await postDeploy(h, account.auth, missingApp, IMAGE_V2);
    expect(onMissing.statusCode).toBe(404);
    expect(onMissing.json()).toMatchObject({ detail: `No app with id ${missingApp}.` });
  });

  it('refuses a key without apps:deploy with the exact seed message, and changes nothing', async () => {
    const app = await servingApp();
    const before = await snapshot(h, account.accountId);
    for (const scopes of [['apps:read'], ['apps:manage'], ['apps:read', 'apps:manage', 'clusters:write', 'jobs:read']]) {
      const key = bearer((await h.createKey(account, scopes)).key);
      for (const [method, url, payload] of [
        ['POST', `/apps/${app.id}/deploys`, { image: IMAGE_V2 }],
        ['POST', `/apps/${newId('app')}/deploys`, { image: IMAGE_V2 }],
        ['GET', `/apps/${app.id}/deploys/${app.current_deploy_id ?? ''}`, undefined],
      ] as const) {
        const response = await h.inject({ method, url, headers: key, ...(payload ? { payload } : {}) });
        expect(response.statusCode, `${scopes.join(',')} ${method} ${url}`).toBe(403);
        expect(response.json()).toMatchObject({
          code: 'insufficient_scope',
          detail: 'API key missing required scope: apps:deploy',
          required_scope: 'apps:deploy',
        });
        expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="insufficient_scope", scope="apps:deploy"');
      }
    }
    expect(await snapshot(h, account.accountId)).toEqual(before);
  });

  it('lets the seed CI/CD key (apps:deploy + clusters:read) deploy and follow its deploy, and nothing more', async () => {
    const app = await servingApp();
    const ci = await h.createKey(account, ['apps:deploy', 'clusters:read']);
    const headers = bearer(ci.key);
    expect((await h.inject({ method: 'GET', url: `/clusters/${clusterId}`, headers })).statusCode).toBe(200);
    const response = await postDeploy(h, headers, app.id, IMAGE_V2);
    expect(response.statusCode).toBe(202);
    const started = (response.json() as { deploy: DeployBody }).deploy;
    expect(started.created_by).toBe(ci.id);
    // It cannot read jobs, so it polls the deploy itself.
    const done = await waitFor(async () => {
      const poll = await getJson<DeployBody>(h, headers, `/apps/${app.id}/deploys/${started.id}`);
      return ['succeeded', 'failed', 'canceled', 'superseded'].includes(poll.status) ? poll : undefined;
    });
    expect(done.status).toBe('succeeded');

    const before = await snapshot(h, account.accountId);
    for (const [method, url, scope, payload] of [
      ['GET', '/apps', 'apps:read', undefined],
      ['GET', `/apps/${app.id}`, 'apps:read', undefined],
      ['GET', `/apps/${app.id}/deploys`, 'apps:read', undefined],
      ['GET', `/jobs/${started.job_id ?? ''}`, 'jobs:read', undefined],
      ['POST', '/apps', 'apps:manage', { name: 'from-ci', cluster_id: clusterId, type: 'service' }],
      ['POST', `/apps/${app.id}/restart`, 'apps:manage', undefined],
      ['DELETE', `/apps/${app.id}`, 'apps:manage', undefined],
      ['DELETE', `/clusters/${clusterId}`, 'clusters:write', undefined],
    ] as const) {
      const refused = await h.inject({ method, url, headers, ...(payload ? { payload } : {}) });
      expect(refused.statusCode, `${method} ${url}`).toBe(403);
      expect((refused.json() as Problem).detail).toBe(`API key missing required scope: ${scope}`);
    }
    expect(await snapshot(h, account.accountId)).toEqual(before);
  });

  it("keeps another account's apps and deploys out of reach", async () => {
    const owner = await h.newAccount();
    const { clusterId: ownerCluster } = await createCluster(h, owner, { wait: true });
    const app = await servingApp(owner, ownerCluster);
    const before = await snapshot(h, owner.accountId);
    const intruder = await h.newAccount();
    for (const headers of [intruder.auth, bearer((await h.createKey(intruder, ['apps:deploy', 'apps:read'])).key)]) {
      const post = await postDeploy(h, headers, app.id, IMAGE_V2);
      expect(post.statusCode).toBe(404);
      expect(post.json()).toMatchObject({ code: 'not_found', detail: `No app with id ${app.id}.` });
      expect((await h.inject({ method: 'GET', url: `/apps/${app.id}/deploys`, headers })).statusCode).toBe(404);
      expect((await h.inject({ method: 'GET', url: `/apps/${app.id}/deploys/${app.current_deploy_id ?? ''}`, headers })).statusCode).toBe(404);
    }
    expect(await snapshot(h, owner.accountId)).toEqual(before);
    expect(await snapshot(h, intruder.accountId)).toEqual({ apps: [], deploys: [], jobs: 0 });
  });
});

describe(`deploys while jobs wait (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account: Account;
  let clusterId: string;

  beforeAll(async () => {
    // No runner until a test starts one, and slow steps so a test can catch a job while it runs.
    h = await startHarness({ runJobs: false, env: { SIMULATED_STEP_MS: '100' } });
    account = await h.newAccount();
    const created = await createCluster(h, account);
    clusterId = created.clusterId;
    expect((await runUntilFinished(h, account, created.jobId)).status).toBe('succeeded');
  });
  afterAll(async () => h.close());

  const jobOf = (id: string) => getJson<JobBody>(h, account.auth, `/jobs/${id}`);

  it('supersedes a queued deploy: only the newest image rolls out', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    const d1 = await firstDeploy(h, account, app.id);
    const { deploy: d2, job: j2 } = await deploy(h, account, app.id, IMAGE_V2);

    expect(await getJson<DeployBody>(h, account.auth, `/apps/${app.id}/deploys/${d1.id}`)).toMatchObject({
      status: 'superseded',
      error: `Superseded by deploy ${d2.id}.`,
    });
    expect(await jobOf(d1.job_id ?? '')).toMatchObject({ status: 'canceled', error: { code: 'canceled', message: `Superseded by deploy ${d2.id} before it started.` } });
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({ status: 'deploying', active_job_id: j2.id, image: null });

    const { deploy: d3, job: j3 } = await deploy(h, account, app.id, IMAGE_V3);
    expect((await jobOf(j2.id)).status).toBe('canceled');
    expect((await runUntilFinished(h, account, j3.id)).status).toBe('succeeded');

    const history = await getJson<{ data: DeployBody[] }>(h, account.auth, `/apps/${app.id}/deploys`);
    expect(history.data.map((d) => [d.id, d.image, d.status])).toEqual([
      [d3.id, IMAGE_V3, 'succeeded'],
      [d2.id, IMAGE_V2, 'superseded'],
      [d1.id, IMAGE_V1, 'superseded'],
    ]);
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({
      status: 'running',
      image: IMAGE_V3,
      current_deploy_id: d3.id,
      active_job_id: null,
    });
    // The superseded jobs never ran a step.
    expect((await jobOf(j2.id)).steps.every((step) => step.status === 'canceled')).toBe(true);
  });

  it('leaves exactly one deploy queued when many arrive at once', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    const images = Array.from({ length: 6 }, (_, i) => `registry.example.com/team/etl:burst-${i}`);
    const responses = await Promise.all(images.map((image) => postDeploy(h, account.auth, app.id, image)));
    // Requests on one app queue behind its row lock: each supersedes the one before, none is refused.
    expect(responses.map((response) => response.statusCode)).toEqual(images.map(() => 202));
    const history = (await getJson<{ data: DeployBody[] }>(h, account.auth, `/apps/${app.id}/deploys`)).data;
    const queued = history.filter((d) => d.status === 'queued');
    expect(queued).toHaveLength(1);
    expect(history.map((d) => d.status).sort()).toEqual(['queued', ...Array<string>(6).fill('superseded')]);
    const current = await getJson<AppBody>(h, account.auth, `/apps/${app.id}`);
    expect(current.active_job_id).toBe(queued[0]?.job_id);
    const jobs = await getJson<{ data: JobBody[] }>(h, account.auth, `/jobs?resource_id=${app.id}&status=queued`);
    expect(jobs.data.map((job) => job.id)).toEqual([current.active_job_id]);
    expect((await runUntilFinished(h, account, current.active_job_id ?? '')).status).toBe('succeeded');
    expect((await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).image).toBe(queued[0]?.image);
  });

  it('refuses a deploy (409 naming the job) while another job of the app runs', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    await h.app.jobRunner.start();
    try {
      const jobId = app.active_job_id ?? '';
      // Running, and its deploy marked in progress (the job's first write after its claim): from then on
      // only the refused request could change the snapshot.
      await waitFor(async () => {
        if ((await jobOf(jobId)).status !== 'running') return undefined;
        const deploys = await getJson<{ data: Array<{ status: string }> }>(h, account.auth, `/apps/${app.id}/deploys`);
        return deploys.data[0]?.status === 'in_progress' ? true : undefined;
      });
      const before = await snapshot(h, account.accountId);
      const response = await postDeploy(h, account.auth, app.id, IMAGE_V2);
      expect(response.statusCode).toBe(409);
      expect(response.json()).toMatchObject({
        code: 'conflict',
        active_job_id: jobId,
        detail: `App ${app.id} is busy with job ${jobId} (app.deploy, running); wait for it to finish or cancel it before you deploy.`,
      });
      expect(await snapshot(h, account.accountId)).toEqual(before);
      expect((await waitForJob(h, account, jobId)).status).toBe('succeeded');

      // A running restart holds the app the same way.
      const restart = await h.inject({ method: 'POST', url: `/apps/${app.id}/restart`, headers: account.auth });
      const restartJob = (restart.json() as { job: { id: string } }).job.id;
      await waitFor(async () => ((await jobOf(restartJob)).status === 'running' ? true : undefined));
      const during = await postDeploy(h, account.auth, app.id, IMAGE_V2);
      expect(during.statusCode).toBe(409);
      expect((during.json() as Problem).detail).toContain(`busy with job ${restartJob} (app.restart, running)`);
      expect((await waitForJob(h, account, restartJob)).status).toBe('succeeded');
    } finally {
      await h.app.jobRunner.stop();
    }
  });

  it('refuses a deploy over a queued restart instead of superseding it', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    await runUntilFinished(h, account, app.active_job_id ?? '');
    const restart = await h.inject({ method: 'POST', url: `/apps/${app.id}/restart`, headers: account.auth });
    const restartJob = (restart.json() as { job: { id: string } }).job.id;
    const response = await postDeploy(h, account.auth, app.id, IMAGE_V2);
    expect(response.statusCode).toBe(409);
    expect((response.json() as Problem).detail).toContain(`busy with job ${restartJob} (app.restart, queued)`);
    expect((await jobOf(restartJob)).status).toBe('queued');
    await runUntilFinished(h, account, restartJob);
  });

  it('puts the app back as it was when a queued deploy is canceled', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    await runUntilFinished(h, account, app.active_job_id ?? '');
    const { deploy: d, job } = await deploy(h, account, app.id, IMAGE_V2);
    const cancel = await h.inject({ method: 'POST', url: `/jobs/${job.id}/cancel`, headers: account.auth });
    expect(cancel.statusCode).toBe(200);
    expect(await getJson<DeployBody>(h, account.auth, `/apps/${app.id}/deploys/${d.id}`)).toMatchObject({ status: 'canceled', error: 'Canceled before it started.' });
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({ status: 'running', image: IMAGE_V1, active_job_id: null, status_reason: null });
  });

  it('rolls back a deploy canceled mid-rollout; the previous image keeps serving', async () => {
    const app = await createApp(h, account, clusterId, { image: IMAGE_V1 });
    await runUntilFinished(h, account, app.active_job_id ?? '');
    const { deploy: d, job } = await deploy(h, account, app.id, IMAGE_V2);
    await h.app.jobRunner.start();
    try {
      await waitFor(async () => ((await jobOf(job.id)).status === 'running' ? true : undefined));
      // The deploy turns in_progress as the runner starts the job, a moment after the claim.
      await waitFor(async () =>
        (await getJson<DeployBody>(h, account.auth, `/apps/${app.id}/deploys/${d.id}`)).status === 'in_progress' ? true : undefined,
      );
      expect((await h.inject({ method: 'POST', url: `/jobs/${job.id}/cancel`, headers: account.auth })).statusCode).toBe(202);
      expect((await waitForJob(h, account, job.id)).status).toBe('canceled');
    } finally {
      await h.app.jobRunner.stop();
    }
    expect(await getJson<DeployBody>(h, account.auth, `/apps/${app.id}/deploys/${d.id}`)).toMatchObject({
      status: 'canceled',
      error: 'Canceled during the rollout; its completed steps were rolled back.',
    });
    expect(await getJson<AppBody>(h, account.auth, `/apps/${app.id}`)).toMatchObject({
      status: 'running',
      image: IMAGE_V1,
      active_job_id: null,
      status_reason: `Deploy ${d.id} of ${IMAGE_V2} was canceled and rolled back. ${IMAGE_V1} is still serving.`,
    });
  });
});
