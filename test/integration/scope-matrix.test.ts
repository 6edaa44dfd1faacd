import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_CREDENTIALS, createCluster, waitForJob } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import {
  describeAuth,
  EXPECTED_ROUTES,
  expectedForKey,
  KEY_SCOPE_SETS,
  routeKey,
  type ExpectedKeyOutcome,
  type ExpectedRoute,
  type KeyScopeSet,
} from './expected-routes.js';

/**
 * The full scope matrix (seed: api-key-scopes.md, CONTRACT §2 steps 3–4): every route × every key
 * scope set, with ids that exist and ids that do not, plus a user session on every route.
 * Expectations come from the hand-written table in expected-routes.ts, never from src/.
 */

type IdVariant = 'real' | 'missing' | 'none';

interface Ids {
  key: string;
  cloud: string;
  cluster: string;
  pool: string;
  pod: string;
  job: string;
  app: string;
  deploy: string;
}

/** Well-formed ids (prefix + 25 base62 characters) that name nothing. */
const MISSING: Ids = {
  key: 'key_0000000000000000000000000',
  cloud: 'cld_0000000000000000000000000',
  cluster: 'cls_0000000000000000000000000',
  pool: 'np_0000000000000000000000000',
  pod: 'no-such-pod',
  job: 'job_0000000000000000000000000',
  app: 'app_0000000000000000000000000',
  deploy: 'dep_0000000000000000000000000',
};

const NODE_POOL_BODY = { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 1 };

/**
 * Bodies that would succeed if the gate let them through. Refused requests carry these, so a leak in
 * the gate would show up as a changed row count or resource.
 */
function validBody(key: string, real: Ids): Record<string, unknown> | undefined {
  switch (key) {
    case 'POST /api-keys':
      return { name: 'escalation-attempt', scopes: ['full'] };
    case 'POST /api-keys/{id}/roll':
      return { expires_in_seconds: 0 };
    case 'POST /clouds':
      return { name: 'leaked-cloud', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS };
    case 'PATCH /clouds/{id}':
      return { name: 'renamed-cloud' };
    case 'POST /clusters':
      return { name: 'leaked-cluster', cloud_id: real.cloud };
    case 'PATCH /clusters/{id}':
      return { name: 'renamed-cluster' };
    case 'POST /clusters/{id}/upgrade':
      return { kubernetes_version: '1.33' };
    case 'POST /clusters/{id}/node-pools':
      return { ...NODE_POOL_BODY, name: 'leaked-pool' };
    case 'PATCH /clusters/{id}/node-pools/{pool}':
      return { desired_size: 2 };
    case 'POST /apps':
      return { name: 'leaked-app', cluster_id: real.cluster, type: 'service' };
    case 'PATCH /apps/{id}':
      return { name: 'renamed-app' };
    case 'POST /apps/{id}/deploys':
      return { image: 'registry.example.com/team/leaked:v2' };
    case 'POST /apps/{id}/registry-token':
    case 'POST /apps/{id}/dev-credentials':
    case 'POST /clusters/{id}/terminal':
    case 'POST /clusters/{id}/data-plane-token':
    case 'POST /billing/portal-session':
      return {};
    case 'POST /terminal-sessions/redeem':
      return { token: 'not-a-terminal-token' };
    case 'PUT /integrations/github':
      return { installation_id: 12345, repository: 'acme/dags', branch: 'main', dag_path: 'dags/' };
    case 'POST /billing/subscription':
      return { plan: 'team' };
    default:
      return undefined;
  }
}

/** Not a JSON object: every body schema rejects it with 400, so an allowed request changes nothing. */
const INVALID_BODY: string[] = ['not', 'an', 'object'];

/**
 * Writes that have no body to reject: with a real id an allowed caller would really delete or cancel
 * the fixtures, so those are only sent with ids that do not exist.
 */
const WITHOUT_BODY_TO_REJECT = new Set([
  'DELETE /api-keys/{id}',
  'DELETE /clouds/{id}',
  'DELETE /clusters/{id}',
  'DELETE /clusters/{id}/node-pools/{pool}',
  'POST /jobs/{id}/cancel',
  'DELETE /apps/{id}',
  'POST /apps/{id}/restart',
]);

// 415: a JSON body sent to the multipart DAG upload is refused after the gate let it through.
const ALLOWED_STATUSES = [200, 201, 202, 204, 400, 404, 409, 415];

const hasParams = (route: ExpectedRoute): boolean => route.path.includes('{');

function fillPath(path: string, ids: Ids): string {
  const resource = path.split('/')[1];
  const idFor: Record<string, string> = { 'api-keys': ids.key, clouds: ids.cloud, clusters: ids.cluster, jobs: ids.job, apps: ids.app };
  return path
    .replace('{id}', idFor[resource ?? ''] ?? 'unknown-resource')
    .replace('{pool}', ids.pool)
    .replace('{pod}', ids.pod)
    .replace('{deploy}', ids.deploy);
}

function variantsFor(route: ExpectedRoute, allowed: boolean): IdVariant[] {
  if (!hasParams(route)) return ['none'];
  if (allowed && WITHOUT_BODY_TO_REJECT.has(routeKey(route.method, route.path))) return ['missing'];
  return ['real', 'missing'];
}

function outcomeLabel(outcome: ExpectedKeyOutcome): string {
  if (outcome.allowed) return 'allowed';
  return outcome.code === 'insufficient_scope' ? `403 insufficient_scope (${outcome.scope})` : '403 user_session_required';
}

const variantLabel = (variant: IdVariant): string => (variant === 'none' ? '' : ` [${variant} id]`);

interface KeyCase {
  name: string;
  route: ExpectedRoute;
  variant: IdVariant;
  expected: ExpectedKeyOutcome;
}

function keyCasesFor(keySet: KeyScopeSet): KeyCase[] {
  return EXPECTED_ROUTES.flatMap((route) => {
    const expected = expectedForKey(route.auth, keySet.scopes);
    return variantsFor(route, expected.allowed).map((variant) => ({
      name: `${route.method} ${route.path}${variantLabel(variant)} (needs ${describeAuth(route.auth)}) → ${outcomeLabel(expected)}`,
      route,
      variant,
      expected,
    }));
  });
}

interface UserCase {
  name: string;
  route: ExpectedRoute;
  variant: IdVariant;
}

const USER_CASES: UserCase[] = EXPECTED_ROUTES.flatMap((route) =>
  variantsFor(route, true).map((variant) => ({
    name: `${route.method} ${route.path}${variantLabel(variant)} is reached`,
    route,
    variant,
  })),
);

const TABLES = [
  'api_keys',
  'clouds',
  'clusters',
  'node_pools',
  'jobs',
  'job_steps',
  'job_logs',
  'apps',
  'deploys',
  'dag_bundles',
  'dev_credentials',
  'terminal_sessions',
  'github_integrations',
  'billing_accounts',
  'usage_records',
] as const;

describe(`scope matrix (${TEST_DIALECT})`, () => {
  let h: Harness;
  let owner: Account;
  let real: Ids;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    owner = await h.newAccount();
    const { cloudId, clusterId, jobId } = await createCluster(h, owner, { wait: true });

    const pool = await h.inject({ method: 'POST', url: `/clusters/${clusterId}/node-pools`, headers: owner.auth, payload: NODE_POOL_BODY });
    if (pool.statusCode !== 202) throw new Error(`node pool: ${pool.statusCode} ${pool.body}`);
    const accepted = pool.json() as { node_pool: { id: string }; job: { id: string } };
    const poolJob = await waitForJob(h, owner, accepted.job.id);
    if (poolJob.status !== 'succeeded') throw new Error(`node pool job ${poolJob.status}`);

    const pods = await h.inject({ method: 'GET', url: `/clusters/${clusterId}/pods`, headers: owner.auth });
    const podName = (pods.json() as { data: Array<{ name: string }> }).data[0]?.name;
    if (pods.statusCode !== 200 || !podName) throw new Error(`pods: ${pods.statusCode} ${pods.body}`);

    const app = await h.inject({
      method: 'POST',
      url: '/apps',
      headers: owner.auth,
      payload: { name: 'etl', cluster_id: clusterId, type: 'airflow', image: 'registry.example.com/team/etl:v1' },
    });
    if (app.statusCode !== 201) throw new Error(`app: ${app.statusCode} ${app.body}`);
    const appId = (app.json() as { id: string }).id;
    const deploys = await h.inject({ method: 'GET', url: `/apps/${appId}/deploys`, headers: owner.auth });
    const deploy = (deploys.json() as { data: Array<{ id: string; job_id: string }> }).data[0];
    if (!deploy) throw new Error(`deploys: ${deploys.body}`);
    if ((await waitForJob(h, owner, deploy.job_id)).status !== 'succeeded') throw new Error('initial deploy did not succeed');

    // The target of the key-management routes; it never authenticates, so its row never changes on its own.
    const victim = await h.createKey(owner, ['full']);
    real = { key: victim.id, cloud: cloudId, cluster: clusterId, pool: accepted.node_pool.id, pod: podName, job: jobId, app: appId, deploy: deploy.id };

    for (const keySet of KEY_SCOPE_SETS) secrets.set(keySet.name, (await h.createKey(owner, keySet.scopes)).key);
  });
  afterAll(async () => h?.close());

  /** Row counts of every table plus the fixture rows themselves: a refused write must change none of them. */
  async function snapshot(): Promise<unknown> {
    const db = h.deps.database.db;
    const counts = await Promise.all(
      TABLES.map(async (table) => {
        const row = await db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
        return [table, Number(row.n)] as const;
      }),
    );
    const [key, cloud, cluster, pool, job, app, deploy] = await Promise.all([
      db.selectFrom('api_keys').selectAll().where('id', '=', real.key).executeTakeFirst(),
      db.selectFrom('clouds').selectAll().where('id', '=', real.cloud).executeTakeFirst(),
      db.selectFrom('clusters').selectAll().where('id', '=', real.cluster).executeTakeFirst(),
      db.selectFrom('node_pools').selectAll().where('id', '=', real.pool).executeTakeFirst(),
      db.selectFrom('jobs').selectAll().where('id', '=', real.job).executeTakeFirst(),
      db.selectFrom('apps').selectAll().where('id', '=', real.app).executeTakeFirst(),
      db.selectFrom('deploys').selectAll().where('id', '=', real.deploy).executeTakeFirst(),
    ]);
    return { counts: Object.fromEntries(counts), key, cloud, cluster, pool, job, app, deploy };
  }

  async function send(route: ExpectedRoute, variant: IdVariant, authorization: string, bodyKind: 'valid' | 'invalid'): Promise<LightMyRequestResponse> {
    const ids = variant === 'missing' ? MISSING : real;
    const key = routeKey(route.method, route.path);
    const body = validBody(key, real);
    const payload = body === undefined ? undefined : bodyKind === 'valid' ? body : INVALID_BODY;
    return h.inject({
      method: route.method,
      url: `${fillPath(route.path, ids)}${route.query ? `?${route.query}` : ''}`,
      headers: { authorization },
      ...(payload === undefined ? {} : { payload }),
    });
  }

  /** Allowed callers get real ids with a body that fails validation, and missing ids with one that would pass. */
  const allowedBodyKind = (variant: IdVariant): 'valid' | 'invalid' => (variant === 'missing' ? 'valid' : 'invalid');

  function expectReached(response: LightMyRequestResponse, route: ExpectedRoute, variant: IdVariant): void {
    expect(ALLOWED_STATUSES, `status ${response.statusCode}: ${response.body.slice(0, 300)}`).toContain(response.statusCode);
    // Reads are safe to really perform: with ids that exist they succeed, with ids that do not they are 404.
    // The account has no GitHub integration (connecting one would let allowed DELETEs remove it), so that read is 404.
    const expected = variant === 'missing' || routeKey(route.method, route.path) === 'GET /integrations/github' ? 404 : 200;
    if (route.method === 'GET') expect(response.statusCode, response.body.slice(0, 300)).toBe(expected);
  }

  it('keys were stored with the scopes the matrix assumes', async () => {
    for (const keySet of KEY_SCOPE_SETS) {
      const me = await h.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${secrets.get(keySet.name)}` } });
      expect(me.statusCode).toBe(200);
      const body = me.json() as { type: string; api_key: { scopes: string[] } };
      expect(body.type).toBe('api_key');
      expect([...body.api_key.scopes].sort(), keySet.name).toEqual([...keySet.scopes].sort());
    }
  });

  async function checkKeyCase(keySet: KeyScopeSet, { route, variant, expected }: KeyCase): Promise<void> {
    const authorization = `Bearer ${secrets.get(keySet.name) ?? 'missing-secret'}`;
    const isWrite = route.method !== 'GET';
    const before = isWrite ? await snapshot() : null;
    const response = await send(route, variant, authorization, expected.allowed ? allowedBodyKind(variant) : 'valid');

    if (expected.allowed) {
      expectReached(response, route, variant);
    } else {
      expect(response.statusCode, response.body.slice(0, 300)).toBe(403);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      const body = response.json() as Record<string, unknown>;
      if (expected.code === 'insufficient_scope') {
        expect(body).toMatchObject({
          status: 403,
          code: 'insufficient_scope',
          detail: `API key missing required scope: ${expected.scope}`,
          required_scope: expected.scope,
        });
        expect(response.headers['www-authenticate']).toBe(`Bearer realm="skaledata", error="insufficient_scope", scope="${expected.scope}"`);
      } else {
        expect(body).toMatchObject({ status: 403, code: 'user_session_required' });
      }
    }

    // Nothing changes: refused writes carried bodies that would have succeeded.
    if (before !== null) expect(await snapshot()).toEqual(before);
  }

  for (const keySet of KEY_SCOPE_SETS) {
    describe(`API key "${keySet.name}" ${JSON.stringify(keySet.scopes)}`, () => {
      for (const testCase of keyCasesFor(keySet)) it(testCase.name, () => checkKeyCase(keySet, testCase));
    });
  }

  describe('user session', () => {
    for (const { name, route, variant } of USER_CASES) {
      it(name, async () => {
        const before = route.method !== 'GET' ? await snapshot() : null;
        const response = await send(route, variant, owner.auth.authorization, allowedBodyKind(variant));
        expect(response.statusCode).not.toBe(401);
        expect(response.statusCode).not.toBe(403);
        expectReached(response, route, variant);
        if (before !== null) expect(await snapshot()).toEqual(before);
      });
    }
  });
});
