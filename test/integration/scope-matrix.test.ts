import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, waitForJob } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import {
  describeAuth,
  EXPECTED_ROUTES,
  COUNTED_TABLES,
  expectedForKey,
  hasPathParameters,
  KEY_SCOPE_SETS,
  MISSING_IDS,
  routeKey,
  routeUrl,
  validBody,
  WRITES_WITHOUT_BODY,
  type ExpectedKeyOutcome,
  type ExpectedRoute,
  type Ids,
  type KeyScopeSet,
} from './expected-routes.js';

/**
 * The full scope matrix (seed: api-key-scopes.md, CONTRACT §2 steps 3–4): every route × every key
 * scope set, with ids that exist and ids that do not, plus a user session on every route.
 * Expectations come from the hand-written table in expected-routes.ts, never from src/.
 */

type IdVariant = 'real' | 'missing' | 'none';

const NODE_POOL_BODY = { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 1 };

/**
 * Not a JSON object: every body schema rejects it with 400 (the DAG upload's parser with 415), so an
 * allowed request changes nothing. Refused requests carry validBody's bodies instead, which would succeed.
 */
const INVALID_BODY: string[] = ['not', 'an', 'object'];

/**
 * Writes that have no body to reject: with a real id an allowed caller would really delete or cancel
 * the fixtures, so those are only sent with ids that do not exist.
 */
const WITHOUT_BODY_TO_REJECT = new Set([...WRITES_WITHOUT_BODY].filter((key) => key.includes('{')));

// 415: a JSON body sent to the multipart DAG upload is refused after the gate let it through.
const ALLOWED_STATUSES = [200, 201, 202, 204, 400, 404, 409, 415];

function variantsFor(route: ExpectedRoute, allowed: boolean): IdVariant[] {
  if (!hasPathParameters(route)) return ['none'];
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

const TABLES = COUNTED_TABLES;

describe(`scope matrix (${TEST_DIALECT})`, () => {
  let h: Harness;
  let owner: Account;
  let real: Ids;
  const secrets = new Map<string, string>();

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, env: { WEBHOOK_ALLOW_PRIVATE: 'on' } });
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
    // A webhook endpoint nothing listens at (its id is what matters; it subscribes to an event the matrix never raises).
    const webhook = await h.inject({ method: 'POST', url: '/webhooks', headers: owner.auth, payload: { url: 'http://127.0.0.1:9/hook', event_types: ['api_key.expiring'] } });
    if (webhook.statusCode !== 201) throw new Error(`webhook: ${webhook.statusCode} ${webhook.body}`);
    const webhookId = (webhook.json() as { id: string }).id;
    real = { key: victim.id, cloud: cloudId, cluster: clusterId, pool: accepted.node_pool.id, pod: podName, job: jobId, app: appId, deploy: deploy.id, webhook: webhookId };

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
    const ids = variant === 'missing' ? MISSING_IDS : real;
    const body = validBody(route, real);
    const sent = body === undefined ? undefined : bodyKind === 'valid' ? body : { payload: INVALID_BODY, headers: {} };
    return h.inject({
      method: route.method,
      url: routeUrl(route, ids),
      headers: { authorization, ...sent?.headers },
      ...(sent === undefined ? {} : { payload: sent.payload }),
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
