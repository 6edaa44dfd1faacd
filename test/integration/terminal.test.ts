import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { createCluster } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import type { Problem } from '../helpers/problem.js';

/**
 * Terminal sessions (issue 3 item 7): POST /clusters/{id}/terminal (terminal:exec) sets up a pod and
 * hands out a random single-use token valid for 60 s; the terminal gateway spends it at
 * POST /terminal-sessions/redeem. At most 5 sessions per cluster wait to connect at once.
 */

interface SessionBody {
  session_id: string;
  cluster_id: string;
  pod: string;
  namespace: string;
  connect_url: string;
  token: string;
  expires_at: string;
}

const INVALID_TOKEN_DETAIL = 'The terminal token is invalid, expired or already used.';

function expectProblem(response: LightMyRequestResponse, status: number, code: string): Problem {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  return body;
}

describe(`terminal sessions (${TEST_DIALECT})`, () => {
  let h: Harness;
  const clock = new MovableClock();
  let a: Account;
  let b: Account;
  let clusterA: string;
  let clusterB: string;
  let terminalKey: { id: string; key: string };

  const db = () => h.deps.database.db;
  const open = (clusterId: string, headers: Record<string, string>, payload?: Record<string, unknown>) =>
    h.inject({ method: 'POST', url: `/clusters/${clusterId}/terminal`, headers, ...(payload ? { payload } : {}) });
  const redeem = (payload: unknown) => h.inject({ method: 'POST', url: '/terminal-sessions/redeem', payload: payload as Record<string, unknown> });
  const sessionsOf = (clusterId: string) => db().selectFrom('terminal_sessions').selectAll().where('cluster_id', '=', clusterId).execute();
  /** A running cluster of its own, so the per-cluster cap of one test does not meet another's sessions. */
  const runningCluster = async (account: Account) => (await createCluster(h, account, { wait: true })).clusterId;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, clock });
    [a, b] = await Promise.all([h.newAccount(), h.newAccount()]);
    [clusterA, clusterB] = await Promise.all([runningCluster(a), runningCluster(b)]);
    terminalKey = await h.createKey(a, ['terminal:exec']);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sets up a pod and returns the session with a token shown once and stored only as a hash', async () => {
    const before = clock.now().getTime();
    const response = await open(clusterA, bearer(terminalKey.key));
    expect(response.statusCode, response.body).toBe(201);
    const body = response.json() as SessionBody;
    expect(Object.keys(body).sort()).toEqual(['cluster_id', 'connect_url', 'expires_at', 'namespace', 'pod', 'session_id', 'token']);
    expect(body.session_id).toMatch(/^trm_[0-9A-Za-z]{25}$/);
    expect(body.cluster_id).toBe(clusterA);
    expect(body.pod).toMatch(/^terminal-[0-9a-f]{10}$/);
    expect(body.namespace).toBe('skaledata-terminals');
    expect(body.connect_url).toBe(`wss://127.0.0.1:8080/terminal/sessions/${body.session_id}`);
    expect(body.token).toMatch(/^skt_[0-9A-Za-z]{43}$/);
    const lifetime = Date.parse(body.expires_at) - before;
    expect(lifetime).toBeGreaterThanOrEqual(60_000);
    expect(lifetime).toBeLessThan(61_000);

    const row = await db().selectFrom('terminal_sessions').selectAll().where('id', '=', body.session_id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ account_id: a.accountId, cluster_id: clusterA, pod: body.pod, namespace: body.namespace, expires_at: body.expires_at, used_at: null, created_by: terminalKey.id });
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(body.token.slice(4));
  });

  it('redeems a token once: the gateway learns the pod, a second try is 401 invalid_token', async () => {
    const session = (await open(clusterA, a.auth)).json() as SessionBody;
    const first = await redeem({ token: session.token });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toEqual({ session_id: session.session_id, cluster_id: clusterA, pod: session.pod, namespace: session.namespace, account_id: a.accountId });
    const used = await db().selectFrom('terminal_sessions').select('used_at').where('id', '=', session.session_id).executeTakeFirstOrThrow();
    expect(used.used_at).not.toBeNull();

    const again = expectProblem(await redeem({ token: session.token }), 401, 'invalid_token');
    expect(again.detail).toBe(INVALID_TOKEN_DETAIL);
  });

  it('lets exactly one of two concurrent redeems win', async () => {
    const session = (await open(clusterA, a.auth)).json() as SessionBody;
    const results = await Promise.all([redeem({ token: session.token }), redeem({ token: session.token }), redeem({ token: session.token })]);
    expect(results.map((response) => response.statusCode).sort()).toEqual([200, 401, 401]);
  });

  it('refuses an expired, unknown or malformed token with the same 401, and a bad body with 400', async () => {
    const clusterId = await runningCluster(a);
    const session = (await open(clusterId, a.auth)).json() as SessionBody;
    clock.advance(61_000);
    const expired = await redeem({ token: session.token });
    const unknown = await redeem({ token: `skt_${'A'.repeat(43)}` });
    const malformed = await redeem({ token: 'not-a-terminal-token' });
    for (const response of [expired, unknown, malformed]) {
      expect(expectProblem(response, 401, 'invalid_token').detail).toBe(INVALID_TOKEN_DETAIL);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="invalid_token"');
    }
    const row = await db().selectFrom('terminal_sessions').select('used_at').where('id', '=', session.session_id).executeTakeFirstOrThrow();
    expect(row.used_at).toBeNull();

    for (const payload of [{}, { token: 42 }, { token: '' }, { token: 'x'.repeat(257) }, { token: session.token, session_id: session.session_id }]) {
      expectProblem(await redeem(payload), 400, 'validation_failed');
    }
  });

  it('caps a cluster at 5 sessions waiting to connect: the 6th gets 429 with Retry-After, and expiry frees the slots', async () => {
    const clusterId = await runningCluster(a);
    const results = await Promise.all(Array.from({ length: 8 }, () => open(clusterId, a.auth)));
    expect(results.map((response) => response.statusCode).sort()).toEqual([201, 201, 201, 201, 201, 429, 429, 429]);
    expect(await sessionsOf(clusterId)).toHaveLength(5);

    clock.advance(20_000);
    const refused = await open(clusterId, bearer(terminalKey.key));
    const body = expectProblem(refused, 429, 'rate_limited');
    expect(refused.headers['retry-after']).toBe('40');
    expect(body.detail).toBe(`Cluster ${clusterId} already has 5 terminal sessions waiting to connect; retry in 40 s.`);
    expect(await sessionsOf(clusterId)).toHaveLength(5);

    // Redeemed or not, a session counts until its token expires; after that a new one fits.
    clock.advance(41_000);
    expect((await open(clusterId, a.auth)).statusCode).toBe(201);
  });

  it('needs a running cluster (409) and refuses unknown fields and bad ids (400)', async () => {
    const provisioning = (await createCluster(h, a)).clusterId;
    const body = expectProblem(await open(provisioning, a.auth), 409, 'conflict');
    expect(body.detail).toBe(`Cluster ${provisioning} is provisioning; a terminal can be opened while it is running.`);
    expect(body.cluster_status).toBe('provisioning');
    expect(await sessionsOf(provisioning)).toEqual([]);

    expectProblem(await open(clusterA, a.auth, { shell: '/bin/bash' }), 400, 'validation_failed');
    expectProblem(await open('bad%20id!', a.auth), 400, 'validation_failed');
  });

  it("answers another account's cluster exactly like a missing one and creates nothing there", async () => {
    const missing = newId('cluster');
    const foreign = await open(clusterB, bearer(terminalKey.key));
    const absent = await open(missing, bearer(terminalKey.key));
    const strip = (response: LightMyRequestResponse, id: string) => {
      const { request_id: _requestId, ...rest } = response.json() as Problem;
      return { ...rest, detail: rest.detail.replace(id, '<id>') };
    };
    expectProblem(foreign, 404, 'not_found');
    expect(strip(foreign, clusterB)).toEqual(strip(absent, missing));
    expect(await sessionsOf(clusterB)).toEqual([]);
  });

  it('refuses keys without terminal:exec with the exact message, for any id', async () => {
    for (const scopes of [['apps:deploy', 'clusters:read'], ['clusters:write'], ['clusters:read', 'apps:read', 'jobs:read']]) {
      const key = await h.createKey(a, scopes);
      for (const id of [clusterA, newId('cluster')]) {
        const response = await open(id, bearer(key.key));
        expect(expectProblem(response, 403, 'insufficient_scope').detail).toBe('API key missing required scope: terminal:exec');
        expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="insufficient_scope", scope="terminal:exec"');
      }
    }
    const full = await h.createKey(a, ['full']);
    const clusterId = await runningCluster(a);
    expect((await open(clusterId, bearer(full.key))).statusCode).toBe(201);
    expectProblem(await open(clusterId, {}), 401, 'unauthenticated');
  });

  it('leaves no session behind when the driver cannot make the pod', async () => {
    const clusterId = await runningCluster(a);
    const original = h.deps.driver.createTerminalPod;
    h.deps.driver.createTerminalPod = async () => {
      throw new Error('simulated: the cluster refused the pod');
    };
    try {
      const body = expectProblem(await open(clusterId, a.auth), 500, 'internal');
      expect(body.detail).not.toContain('simulated');
    } finally {
      h.deps.driver.createTerminalPod = original;
    }
    expect(await sessionsOf(clusterId)).toEqual([]);
  });
});
