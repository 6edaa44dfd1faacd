import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  SCOPE_PRESETS,
  SkaledataConnectionError,
  SkaledataOperationError,
  SkaledataPaginationError,
  SkaledataProblem,
  SkaledataTimeoutError,
  unwrap,
  type App,
  type Cluster,
  type ProblemBody,
  type Schemas,
  type SkaledataClient,
} from '../../src/sdk/index.js';

// Compile-time checks (tsc in npm run lint): the document names its schemas, the named ones are the
// operations' own types, and its Problem is what SkaledataProblem reads.
const namedCluster: (cluster: Cluster) => Schemas['Cluster'] = (cluster) => cluster;
const documentedProblem: (problem: Schemas['Problem']) => ProblemBody = (problem) => problem;
void namedCluster;
void documentedProblem;
import { AWS_CREDENTIALS } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';
import { startStallingServer, type StallingServer } from '../helpers/stalling-server.js';
import { KEY_SCOPE_SETS, type ScopeName } from './expected-routes.js';

/**
 * The typed SDK against a real server on a real port: the seed's four scope combinations
 * (shared/seed/api-key-scopes.md, "Scope combinations") each do what the seed says they are for, and
 * what they may not do fails with a SkaledataProblem carrying the seed's sentence. The scopes come from
 * the hand-written seed table in expected-routes.ts, not from src/. (This file is type-checked by
 * `npm run lint`: it compiles only against the types generated from the OpenAPI document.)
 */

const seedScopes = (useCase: string): ScopeName[] => {
  const found = KEY_SCOPE_SETS.find((set) => set.name.toLowerCase() === useCase.toLowerCase());
  if (!found) throw new Error(`the seed table has no "${useCase}"`);
  return found.scopes;
};
const CI_CD = seedScopes('CI/CD deploy pipeline');
const MONITORING = seedScopes('monitoring / dashboards');
const CLUSTER_AUTOMATION = seedScopes('cluster management automation');
const DAG_SYNC_BOT = seedScopes('DAG sync bot');

const IMAGE_V1 = 'registry.example.com/team/etl:v1';
const IMAGE_V2 = 'registry.example.com/team/etl:v2';
const FAST = { intervalMs: 25, timeoutMs: 15_000 };

async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('the call succeeded');
    },
    (error: unknown) => error,
  );
}

async function expectMissingScope(call: Promise<unknown>, scope: string): Promise<void> {
  const error = await failure(call);
  expect(error).toBeInstanceOf(SkaledataProblem);
  expect(error).toBeInstanceOf(Error);
  expect(error).toMatchObject({ status: 403, code: 'insufficient_scope', detail: `API key missing required scope: ${scope}`, required_scope: scope });
  expect((error as SkaledataProblem).request_id).toMatch(/\S/);
}

describe(`the typed SDK with the seed's scope combinations (${TEST_DIALECT})`, () => {
  let h: Harness;
  let baseUrl: string;
  let user: Account;
  let sd: SkaledataClient;
  let cloudId: string;
  let cluster: Cluster;
  let app: App;

  /** A key with exactly `scopes`, created through the SDK by the user. */
  async function keyClient(name: string, scopes: ScopeName[]): Promise<SkaledataClient> {
    const created = await unwrap(sd.POST('/api-keys', { body: { name, scopes } }));
    expect(created.scopes).toEqual(scopes);
    expect(created.key).toMatch(/^skd_/);
    return createClient({ baseUrl, apiKey: created.key });
  }

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    baseUrl = await h.app.listen({ host: '127.0.0.1', port: 0 });
    user = await h.newAccount();
    sd = createClient({ baseUrl, token: user.token });

    cloudId = (await unwrap(sd.POST('/clouds', { body: { name: 'sdk-cloud', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS } }))).id;
    const accepted = await unwrap(sd.POST('/clusters', { body: { name: 'sdk-cluster', cloud_id: cloudId } }));
    const steps: string[] = [];
    const job = await sd.waitForJob(accepted.job.id, { ...FAST, onStep: (step) => steps.push(`${step.name}:${step.status}`) });
    expect(job.status).toBe('succeeded');
    expect(steps.filter((step) => step.endsWith(':succeeded'))).toHaveLength(job.steps.length);
    cluster = await unwrap(sd.GET('/clusters/{id}', { params: { path: { id: accepted.cluster.id } } }));
    const created = await unwrap(sd.POST('/apps', { body: { name: 'sdk-etl', cluster_id: cluster.id, type: 'airflow', image: IMAGE_V1 } }));
    app = await sd.waitForApp(created.id, FAST);
    expect(app.status).toBe('running');
  });
  afterAll(async () => h?.close());

  it('the SDK presets are the seed table, to the letter', () => {
    expect(SCOPE_PRESETS['ci-deploy']).toEqual({ useCase: 'CI/CD deploy pipeline', scopes: CI_CD });
    expect(SCOPE_PRESETS.monitoring).toEqual({ useCase: 'Monitoring / dashboards', scopes: MONITORING });
    expect(SCOPE_PRESETS['cluster-automation']).toEqual({ useCase: 'Cluster management automation', scopes: CLUSTER_AUTOMATION });
    expect(SCOPE_PRESETS['dag-sync-bot']).toEqual({ useCase: 'DAG sync bot', scopes: DAG_SYNC_BOT });
  });

  it(`CI/CD deploy pipeline ${JSON.stringify(CI_CD)}: reads clusters, deploys and follows the deploy; cannot create or destroy clusters`, async () => {
    const ci = await keyClient('sdk-ci', CI_CD);
    const ids: string[] = [];
    for await (const item of ci.paginate('/clusters', { status: 'running' })) ids.push(item.id);
    expect(ids).toEqual([cluster.id]);

    const { deploy, job } = await unwrap(ci.POST('/apps/{id}/deploys', { params: { path: { id: app.id } }, body: { image: IMAGE_V2 } }));
    expect(deploy).toMatchObject({ app_id: app.id, image: IMAGE_V2, previous_image: IMAGE_V1 });
    // It cannot read jobs, so it follows the deploy itself.
    await expectMissingScope(ci.waitForJob(job.id, FAST), 'jobs:read');
    expect((await ci.waitForDeploy(app.id, deploy.id, FAST)).status).toBe('succeeded');

    await expectMissingScope(ci.POST('/clusters', { body: { name: 'ci-made', cloud_id: cloudId } }), 'clusters:write');
    await expectMissingScope(ci.DELETE('/clusters/{id}', { params: { path: { id: cluster.id } } }), 'clusters:write');
    await expectMissingScope(ci.GET('/apps/{id}', { params: { path: { id: app.id } } }), 'apps:read');
  });

  it(`Monitoring / dashboards ${JSON.stringify(MONITORING)}: reads clusters, apps, health and jobs; changes nothing`, async () => {
    const monitor = await keyClient('sdk-monitor', MONITORING);
    const clusters: string[] = [];
    for await (const item of monitor.paginate('/clusters')) clusters.push(item.id);
    expect(clusters).toEqual([cluster.id]);
    const apps: string[] = [];
    for await (const item of monitor.paginate('/apps')) apps.push(item.id);
    expect(apps).toEqual([app.id]);
    expect((await unwrap(monitor.GET('/apps/{id}/health', { params: { path: { id: app.id } } }))).app_id).toBe(app.id);
    const deploys: string[] = [];
    for await (const item of monitor.paginate('/apps/{id}/deploys', {}, { id: app.id })) if (item.job_id) deploys.push(item.job_id);
    expect(deploys.length).toBeGreaterThan(0);
    expect((await monitor.waitForJob(deploys[0] ?? '', FAST)).type).toBe('app.deploy');

    await expectMissingScope(monitor.POST('/clusters', { body: { name: 'monitor-made', cloud_id: cloudId } }), 'clusters:write');
    await expectMissingScope(monitor.POST('/apps/{id}/deploys', { params: { path: { id: app.id } }, body: { image: IMAGE_V2 } }), 'apps:deploy');
    await expectMissingScope(monitor.POST('/apps', { body: { name: 'monitor-app', cluster_id: cluster.id, type: 'service' } }), 'apps:manage');
    await expectMissingScope(monitor.uploadDags(app.id, [{ name: 'dags/x.py', data: 'x = 1\n' }]), 'apps:deploy');
  });

  it(`Cluster management automation ${JSON.stringify(CLUSTER_AUTOMATION)}: creates a cloud and a cluster and follows the cluster; no apps`, async () => {
    const ops = await keyClient('sdk-ops', CLUSTER_AUTOMATION);
    const cloud = await unwrap(ops.POST('/clouds', { body: { name: 'ops-cloud', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS } }));
    const { cluster: created, job } = await unwrap(ops.POST('/clusters', { body: { name: 'ops-cluster', cloud_id: cloud.id } }));
    await expectMissingScope(ops.waitForJob(job.id, FAST), 'jobs:read');
    const states: string[] = [];
    const settled = await ops.waitForCluster(created.id, { ...FAST, onChange: (current) => states.push(current.status) });
    expect(settled).toMatchObject({ id: created.id, status: 'running', active_job_id: null });
    expect(states.at(-1)).toBe('running');

    await expectMissingScope(ops.GET('/apps'), 'apps:read');
    await expectMissingScope(ops.waitForApp(app.id, FAST), 'apps:read');
    await expectMissingScope(ops.POST('/apps/{id}/deploys', { params: { path: { id: app.id } }, body: { image: IMAGE_V2 } }), 'apps:deploy');
    await expectMissingScope(ops.GET('/jobs'), 'jobs:read');
  });

  it(`DAG sync bot ${JSON.stringify(DAG_SYNC_BOT)}: uploads DAGs; reads nothing`, async () => {
    const bot = await keyClient('sdk-bot', DAG_SYNC_BOT);
    const { bundle, job } = await bot.uploadDags(app.id, [
      { name: 'dags/etl.py', data: "from airflow import DAG\n\nwith DAG('etl') as dag:\n    pass\n" },
      { name: 'dags/lib/helpers.py', data: new TextEncoder().encode('def helper():\n    return 1\n') },
    ]);
    expect(bundle).toMatchObject({ app_id: app.id, file_count: 2 });
    expect(bundle.files.map((file) => file.path)).toEqual(['dags/etl.py', 'dags/lib/helpers.py']);
    await expectMissingScope(bot.waitForJob(job.id, FAST), 'jobs:read');
    await expectMissingScope(bot.waitForDagBundle(app.id, bundle.id, FAST), 'apps:read');
    // The user follows the sync.
    expect((await sd.waitForDagBundle(app.id, bundle.id, FAST)).status).toBe('synced');

    await expectMissingScope(bot.GET('/clusters'), 'clusters:read');
    await expectMissingScope(bot.GET('/apps'), 'apps:read');
    await expectMissingScope(bot.POST('/apps/{id}/restart', { params: { path: { id: app.id } } }), 'apps:manage');
    await expectMissingScope(bot.GET('/api-keys'), 'full');
  });

  it('other refusals and failures are typed too', async () => {
    const bot = await keyClient('sdk-bot-2', DAG_SYNC_BOT);
    const userOnly = await failure(bot.POST('/api-keys', { body: { name: 'escalation', scopes: ['full'] } }));
    expect(userOnly).toMatchObject({ status: 403, code: 'user_session_required', required_scope: null });

    const invalid = await failure(createClient({ baseUrl, apiKey: 'skd_notarealkey' }).GET('/me'));
    expect(invalid).toBeInstanceOf(SkaledataProblem);
    expect(invalid).toMatchObject({ status: 401, code: 'invalid_token' });

    const notFound = await failure(sd.GET('/clusters/{id}', { params: { path: { id: 'cls_0000000000000000000000000' } } }));
    expect(notFound).toMatchObject({ status: 404, code: 'not_found' });

    const validation = (await failure(sd.POST('/api-keys', { body: { name: 'bad', scopes: ['nope' as 'full'] } }))) as SkaledataProblem;
    expect(validation.code).toBe('validation_failed');
    expect(validation.errors.length).toBeGreaterThan(0);

    const failed = await unwrap(sd.POST('/clusters', { body: { name: 'x-simfail-create-control-plane', cloud_id: cloudId } }));
    const error = await failure(sd.waitForJob(failed.job.id, FAST));
    expect(error).toBeInstanceOf(SkaledataOperationError);
    expect(error).toMatchObject({ code: 'job_failed', status: 'failed', job_id: failed.job.id });
    expect(await failure(sd.waitForCluster(failed.cluster.id, FAST))).toMatchObject({ code: 'resource_failed', status: 'failed' });

    const unreachable = await failure(createClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, token: user.token }).GET('/me'));
    expect(unreachable).toBeInstanceOf(SkaledataConnectionError);
    expect(unreachable).toMatchObject({ code: 'unreachable' });
  });
});

describe('the typed SDK against a server that misbehaves', () => {
  let stalling: StallingServer;
  beforeAll(async () => {
    // GET /clusters always says there is more, with the same cursor; everything else is never answered.
    stalling = await startStallingServer((request, response) => {
      if (!request.url?.startsWith('/clusters?')) return false;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [{ id: 'cls_same', name: 'same' }], next_cursor: 'again' }));
      return true;
    });
  });
  afterAll(async () => stalling?.close());

  it('a wait whose request is never answered ends at its deadline with SkaledataTimeoutError, not minutes later', async () => {
    const sd = createClient({ baseUrl: stalling.baseUrl, apiKey: 'skd_x' });
    const started = Date.now();
    const error = await failure(sd.waitForJob('job_hangs', { timeoutMs: 500, intervalMs: 50 }));
    expect(error).toBeInstanceOf(SkaledataTimeoutError);
    expect(error).toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await failure(sd.waitForDeploy('app_x', 'dep_x', { timeoutMs: 300 }))).toBeInstanceOf(SkaledataTimeoutError);
    expect(stalling.requests).toContain('GET /jobs/job_hangs');
  });

  it("the caller's own abort stays an abort (not a timeout)", async () => {
    const sd = createClient({ baseUrl: stalling.baseUrl, apiKey: 'skd_x' });
    const error = await failure(sd.waitForJob('job_hangs', { timeoutMs: 10_000, signal: AbortSignal.timeout(200) }));
    expect(error).not.toBeInstanceOf(SkaledataTimeoutError);
    expect(error).toMatchObject({ name: 'TimeoutError' }); // the caller's signal's own reason
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    expect(await failure(sd.waitForJob('job_hangs', { timeoutMs: 10_000, signal: controller.signal }))).toMatchObject({ name: 'AbortError' });
  });

  it('paginate stops with SkaledataPaginationError when the server repeats a next_cursor', async () => {
    const sd = createClient({ baseUrl: stalling.baseUrl, apiKey: 'skd_x' });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const cluster of sd.paginate('/clusters')) {
        seen.push(cluster.id);
        if (seen.length > 10) return new Error('still looping');
      }
      return new Error('the list ended');
    })().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(SkaledataPaginationError);
    expect(error).toMatchObject({ code: 'cursor_repeated', cursor: 'again', path: '/clusters' });
    expect(seen).toEqual(['cls_same', 'cls_same']);
  });
});
