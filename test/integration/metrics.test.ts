import { randomBytes } from 'node:crypto';
import { sql, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { register as globalRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster, waitForJob } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { families, parseExposition, sampleValue, samplesOf, type Sample } from '../helpers/prometheus.js';

/**
 * Issue 15 part 3: Prometheus metrics at GET /metrics, through the real HTTP stack on a real database. Off
 * unless METRICS_TOKEN or METRICS_PORT is set; on the API port behind the token, or on a listener of its
 * own. Values are checked after known traffic, as differences between two scrapes of the same app.
 */

const TOKEN = `metrics-${randomBytes(16).toString('hex')}`;
const MISSING_CLUSTER_A = 'cls_0000000000000000000000000';
const MISSING_CLUSTER_B = 'cls_1111111111111111111111111';

const FAMILIES = {
  skaledata_http_request_duration_seconds: 'histogram',
  skaledata_auth_decisions_total: 'counter',
  skaledata_auth_cache_lookups_total: 'counter',
  skaledata_auth_cache_entries: 'gauge',
  skaledata_job_queue_depth: 'gauge',
  skaledata_job_run_duration_seconds: 'histogram',
  skaledata_job_failures_total: 'counter',
  skaledata_job_poll_failures_total: 'counter',
  skaledata_db_pool_connections: 'gauge',
  skaledata_db_pool_max_connections: 'gauge',
  // collectDefaultMetrics, on the app's own registry.
  process_cpu_user_seconds_total: 'counter',
  nodejs_heap_size_total_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
};

function expectProblem(response: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, code: string): void {
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect((response.json() as Problem).code).toBe(code);
}

describe(`metrics are off unless configured (${TEST_DIALECT})`, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('GET /metrics answers 404 like any unknown path, with or without a token; no listener exists', async () => {
    for (const headers of [{}, bearer(TOKEN)]) expectProblem(await h.inject({ method: 'GET', url: '/metrics', headers }), 404, 'not_found');
    expect(h.app.hasRoute({ method: 'GET', url: '/metrics' })).toBe(false);
    expect(h.app.metricsListener).toBeNull();
  });
});

describe(`metrics on the API port behind METRICS_TOKEN (${TEST_DIALECT})`, () => {
  let h: Harness;
  let user: Account;
  beforeAll(async () => {
    // Jobs are started by hand below, so the queue depth can be seen before they run.
    h = await startHarness({ env: { METRICS_TOKEN: TOKEN } });
    user = await h.newAccount();
  });
  afterAll(async () => h?.close());

  async function scrape(): Promise<{ text: string; samples: Sample[] }> {
    const response = await h.inject({ method: 'GET', url: '/metrics', headers: bearer(TOKEN) });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
    return { text: response.body, samples: parseExposition(response.body) };
  }
  /** How much a sample grew while `traffic` ran (a missing sample counts as 0). */
  async function growth(traffic: () => Promise<unknown>, name: string, labels: Record<string, string>): Promise<number> {
    const before = sampleValue((await scrape()).samples, name, labels) ?? 0;
    await traffic();
    return (sampleValue((await scrape()).samples, name, labels) ?? 0) - before;
  }

  it('refuses a scrape without the token (401 unauthenticated) or with another credential (401 invalid_token), in the API words', async () => {
    for (const headers of [{}, { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }, { authorization: 'Bearer' }]) {
      const response = await h.inject({ method: 'GET', url: '/metrics', headers });
      expectProblem(response, 401, 'unauthenticated');
      expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata"');
    }
    const key = await h.createKey(user, ['full']);
    for (const token of [`${TOKEN}x`, TOKEN.slice(0, -1), key.key, user.token]) {
      const response = await h.inject({ method: 'GET', url: '/metrics', headers: bearer(token) });
      expectProblem(response, 401, 'invalid_token');
      expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="invalid_token"');
      expect(response.body).not.toContain('skaledata_');
    }
  });

  it('serves the Prometheus text format with every family, from a registry of its own (never the global one)', async () => {
    const response = await h.inject({ method: 'GET', url: '/metrics', headers: bearer(TOKEN) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    const declared = families(response.body);
    for (const [name, kind] of Object.entries(FAMILIES)) expect(declared.get(name), name).toBe(kind);
    expect(() => parseExposition(response.body)).not.toThrow();
    expect(globalRegistry.getMetricsAsArray()).toHaveLength(0);
  });

  it('reports the queue depth, then the run of each job by type and outcome, and failures by code', async () => {
    const depth = (samples: Sample[], status: string) => sampleValue(samples, 'skaledata_job_queue_depth', { status });
    const before = (await scrape()).samples;
    expect(depth(before, 'queued')).toBe(0);
    expect(depth(before, 'running')).toBe(0);
    const ok = await createCluster(h, user);
    const failing = await createCluster(h, user, { name: 'x-simfail-create-control-plane' });
    const queued = (await scrape()).samples;
    expect(depth(queued, 'queued')).toBe(2);
    expect(sampleValue(queued, 'skaledata_job_run_duration_seconds_count', { type: 'cluster.create', outcome: 'succeeded' })).toBeUndefined();

    await h.app.jobRunner.start();
    expect((await waitForJob(h, user, ok.jobId)).status).toBe('succeeded');
    expect((await waitForJob(h, user, failing.jobId)).status).toBe('failed');
    const { samples } = await scrape();
    expect(depth(samples, 'queued')).toBe(0);
    expect(depth(samples, 'running')).toBe(0);
    const succeeded = { type: 'cluster.create', outcome: 'succeeded' };
    expect(sampleValue(samples, 'skaledata_job_run_duration_seconds_count', succeeded)).toBe(1);
    expect(sampleValue(samples, 'skaledata_job_run_duration_seconds_bucket', { ...succeeded, le: '+Inf' })).toBe(1);
    expect(sampleValue(samples, 'skaledata_job_run_duration_seconds_sum', succeeded)).toBeGreaterThan(0);
    expect(sampleValue(samples, 'skaledata_job_run_duration_seconds_count', { type: 'cluster.create', outcome: 'failed' })).toBe(1);
    expect(sampleValue(samples, 'skaledata_job_failures_total', { type: 'cluster.create', code: 'step_failed' })).toBe(1);
    expect(sampleValue(samples, 'skaledata_job_poll_failures_total')).toBe(0);
  });

  it('labels requests by route template, known method and status: never an id or a raw path', async () => {
    const labels = { route: '/clusters/:id', method: 'GET', status_code: '404' };
    const count = await growth(
      async () => {
        for (const id of [MISSING_CLUSTER_A, MISSING_CLUSTER_B, MISSING_CLUSTER_A]) {
          expect((await h.inject({ method: 'GET', url: `/clusters/${id}`, headers: user.auth })).statusCode).toBe(404);
        }
      },
      'skaledata_http_request_duration_seconds_count',
      labels,
    );
    expect(count).toBe(3);
    const unmatchedPath = `/no-such-route-${randomBytes(4).toString('hex')}`;
    expect((await h.inject({ method: 'GET', url: unmatchedPath })).statusCode).toBe(404);
    expect((await h.inject({ method: 'PROPFIND', url: '/me' })).statusCode).toBe(404);
    const { text, samples } = await scrape();
    // One histogram: its count, sum and buckets agree, and the +Inf bucket holds every request.
    const count3 = sampleValue(samples, 'skaledata_http_request_duration_seconds_count', labels) ?? 0;
    expect(sampleValue(samples, 'skaledata_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(count3);
    expect(sampleValue(samples, 'skaledata_http_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
    expect(sampleValue(samples, 'skaledata_http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_code: '404' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'skaledata_http_request_duration_seconds_count', { route: 'unmatched', method: 'OTHER', status_code: '404' })).toBe(1);
    for (const secret of [MISSING_CLUSTER_A, MISSING_CLUSTER_B, unmatchedPath, user.userId, user.accountId, 'PROPFIND']) expect(text).not.toContain(secret);
    const routes = new Set(samplesOf(samples, 'skaledata_http_request_duration_seconds_count').map((sample) => sample.labels.route));
    for (const route of routes) expect(route === 'unmatched' || /^\/[a-z0-9/:._-]*$/.test(route ?? ''), route).toBe(true);
  });

  it('counts auth decisions by outcome and the route’s required scope, without key ids', async () => {
    const jobsReader = await h.createKey(user, ['jobs:read']);
    const refused = await growth(
      async () => expectProblem(await h.inject({ method: 'GET', url: '/clusters', headers: bearer(jobsReader.key) }), 403, 'insufficient_scope'),
      'skaledata_auth_decisions_total',
      { outcome: 'insufficient_scope', required_scope: 'clusters:read' },
    );
    expect(refused).toBe(1);
    const cases: Array<[() => Promise<unknown>, string, string]> = [
      [async () => expect((await h.inject({ method: 'GET', url: '/jobs', headers: bearer(jobsReader.key) })).statusCode).toBe(200), 'allowed', 'jobs:read'],
      [async () => expect((await h.inject({ method: 'GET', url: '/me', headers: user.auth })).statusCode).toBe(200), 'allowed', 'any'],
      [async () => expectProblem(await h.inject({ method: 'GET', url: '/clusters' }), 401, 'unauthenticated'), 'unauthenticated', 'clusters:read'],
      [async () => expectProblem(await h.inject({ method: 'GET', url: '/api-keys', headers: bearer(`${jobsReader.key.slice(0, -1)}${jobsReader.key.endsWith('0') ? '1' : '0'}`) }), 401, 'invalid_token'), 'invalid_token', 'full'],
      [async () => expectProblem(await h.inject({ method: 'POST', url: '/api-keys', headers: bearer(jobsReader.key), payload: { name: 'x' } }), 403, 'user_session_required'), 'user_session_required', 'user'],
    ];
    for (const [traffic, outcome, scope] of cases) {
      expect(await growth(traffic, 'skaledata_auth_decisions_total', { outcome, required_scope: scope }), `${outcome} ${scope}`).toBe(1);
    }
    // CONTRACT §7's refusals of a valid key: its address, and its resource list, at the gate (an account-wide
    // write) and after validation (an app on a cluster it is not given: let through the gate, counted once).
    const elsewhere = await h.createKey(user, ['full'], { allowed_ips: ['10.0.0.0/8'] });
    // Its one cluster is made here (the job runner started above builds it).
    const given = await createCluster(h, user, { wait: true });
    const fenced = await h.createKey(user, ['full'], { resources: { clusters: [given.clusterId] } });
    const refusals: Array<[() => Promise<unknown>, string, string]> = [
      [async () => expectProblem(await h.inject({ method: 'GET', url: '/me', headers: bearer(elsewhere.key) }), 403, 'ip_not_allowed'), 'ip_not_allowed', 'any'],
      [async () => expectProblem(await h.inject({ method: 'POST', url: '/clouds', headers: bearer(fenced.key), payload: {} }), 403, 'resource_not_allowed'), 'resource_not_allowed', 'clusters:write'],
      [
        async () => expectProblem(await h.inject({ method: 'POST', url: '/apps', headers: bearer(fenced.key), payload: { name: 'a', cluster_id: MISSING_CLUSTER_A, type: 'service' } }), 403, 'resource_not_allowed'),
        'resource_not_allowed',
        'apps:manage',
      ],
    ];
    for (const [traffic, outcome, scope] of refusals) {
      const allowedBefore = sampleValue((await scrape()).samples, 'skaledata_auth_decisions_total', { outcome: 'allowed', required_scope: scope }) ?? 0;
      expect(await growth(traffic, 'skaledata_auth_decisions_total', { outcome, required_scope: scope }), `${outcome} ${scope}`).toBe(1);
      expect(sampleValue((await scrape()).samples, 'skaledata_auth_decisions_total', { outcome: 'allowed', required_scope: scope }) ?? 0).toBe(allowedBefore);
    }
    // Public routes are not an auth decision.
    const { text, samples } = await scrape();
    expect(samplesOf(samples, 'skaledata_auth_decisions_total').every((sample) => sample.labels.required_scope !== 'public')).toBe(true);
    expect(text).not.toContain(jobsReader.id);
  });

  it('counts key cache misses and hits (a new key misses once, then hits), and session cache hits', async () => {
    const key = await h.createKey(user, ['full']);
    const me = () => h.inject({ method: 'GET', url: '/me', headers: bearer(key.key) });
    const lookups = (samples: Sample[], cache: string, result: string) => sampleValue(samples, 'skaledata_auth_cache_lookups_total', { cache, result }) ?? NaN;
    const before = (await scrape()).samples;
    expect((await me()).statusCode).toBe(200);
    const afterFirst = (await scrape()).samples;
    expect(lookups(afterFirst, 'api_key', 'miss') - lookups(before, 'api_key', 'miss')).toBe(1);
    expect(lookups(afterFirst, 'api_key', 'hit') - lookups(before, 'api_key', 'hit')).toBe(0);
    // Used again, it is answered from memory: one hit, no miss. (On PostgreSQL this instance also hears its
    // own announcement of the new key, which may evict the entry once after the first use: hence "again".)
    const afterSecond = await waitFor(async () => {
      const previous = (await scrape()).samples;
      expect((await me()).statusCode).toBe(200);
      const now = (await scrape()).samples;
      const hit = lookups(now, 'api_key', 'hit') - lookups(previous, 'api_key', 'hit');
      const missed = lookups(now, 'api_key', 'miss') - lookups(previous, 'api_key', 'miss');
      return hit === 1 && missed === 0 ? now : undefined;
    }, 5000);
    expect(sampleValue(afterSecond, 'skaledata_auth_cache_entries', { cache: 'api_key' })).toBeGreaterThanOrEqual(1);

    // The user's session was verified when the account was made: from then on it is answered from memory.
    const sessionHits = await growth(async () => expect((await h.inject({ method: 'GET', url: '/me', headers: user.auth })).statusCode).toBe(200), 'skaledata_auth_cache_lookups_total', {
      cache: 'session',
      result: 'hit',
    });
    expect(sessionHits).toBe(1);
    const other = await h.newAccount();
    const sessionMisses = sampleValue((await scrape()).samples, 'skaledata_auth_cache_lookups_total', { cache: 'session', result: 'miss' }) ?? 0;
    expect(sessionMisses).toBeGreaterThanOrEqual(2);
    expect(other.token).not.toBe(user.token);
  });

  it('reports the pool the database really has', async () => {
    const { samples } = await scrape();
    const database = TEST_DIALECT;
    if (TEST_DIALECT === 'sqlite') {
      expect(sampleValue(samples, 'skaledata_db_pool_connections', { database, state: 'open' })).toBe(1);
      expect(sampleValue(samples, 'skaledata_db_pool_max_connections', { database })).toBe(1);
      expect(samplesOf(samples, 'skaledata_db_pool_connections', { state: 'idle' })).toEqual([]);
      expect(samplesOf(samples, 'skaledata_db_pool_waiting')).toEqual([]);
      return;
    }
    expect(sampleValue(samples, 'skaledata_db_pool_max_connections', { database })).toBe(10);
    // Three connections held in open transactions while scraping: open counts them, idle does not.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const transactions = [1, 2, 3].map(() =>
      h.deps.database.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        started++;
        await held;
      }),
    );
    while (started < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    const during = (await scrape()).samples;
    release();
    await Promise.all(transactions);
    const open = sampleValue(during, 'skaledata_db_pool_connections', { database, state: 'open' }) ?? 0;
    const idle = sampleValue(during, 'skaledata_db_pool_connections', { database, state: 'idle' }) ?? NaN;
    expect(open).toBeGreaterThanOrEqual(3);
    expect(open - idle).toBeGreaterThanOrEqual(3);
    const after = (await scrape()).samples;
    expect(sampleValue(after, 'skaledata_db_pool_connections', { database, state: 'idle' })).toBeGreaterThanOrEqual(3);

    // Every connection held, and one more query: it waits for a connection, and the scrape says so.
    let releaseAll: () => void = () => undefined;
    const allHeld = new Promise<void>((resolve) => (releaseAll = resolve));
    let holding = 0;
    const holders = Array.from({ length: 10 }, () =>
      h.deps.database.db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        holding++;
        await allHeld;
      }),
    );
    while (holding < 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const waiter = sql`select 1`.execute(h.deps.database.db);
    // The scrape's own queue-depth query waits too: read it once the holders let go.
    const scraping = scrape();
    await new Promise((resolve) => setTimeout(resolve, 100));
    releaseAll();
    await Promise.all([...holders, waiter]);
    const full = (await scraping).samples;
    expect(sampleValue(full, 'skaledata_db_pool_connections', { database, state: 'open' })).toBe(10);
    expect(sampleValue(full, 'skaledata_db_pool_connections', { database, state: 'idle' })).toBe(0);
    expect(sampleValue(full, 'skaledata_db_pool_waiting', { database })).toBeGreaterThanOrEqual(1);
  });

});

/** Fails every query while armed, as an unreachable database would. */
class Outage implements KyselyPlugin {
  armed = false;

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (this.armed) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

describe(`metrics while the database is unreachable (${TEST_DIALECT})`, () => {
  const outage = new Outage();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ runJobs: true, plugins: [outage], env: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    outage.armed = false;
    await h?.close();
  });

  it('still answers a scrape: job poll failures count, and the queue depth is absent rather than stale', async () => {
    const scrape = async () => parseExposition((await h.inject({ method: 'GET', url: '/metrics', headers: bearer(TOKEN) })).body);
    expect(sampleValue(await scrape(), 'skaledata_job_queue_depth', { status: 'queued' })).toBe(0);
    outage.armed = true;
    const during = await waitFor(async () => {
      const samples = await scrape();
      return (sampleValue(samples, 'skaledata_job_poll_failures_total') ?? 0) >= 2 ? samples : undefined;
    });
    expect(samplesOf(during, 'skaledata_job_queue_depth')).toEqual([]);
    outage.armed = false;
    expect(sampleValue(await scrape(), 'skaledata_job_queue_depth', { status: 'queued' })).toBe(0);
  });
});

describe(`metrics on METRICS_PORT, a listener of their own (${TEST_DIALECT})`, () => {
  let h: Harness;
  let open: Harness;
  let address: string;
  let openAddress: string;
  beforeAll(async () => {
    h = await startHarness({ env: { METRICS_PORT: '0', METRICS_TOKEN: TOKEN } });
    address = (await h.app.metricsListener?.listen()) ?? '';
    // METRICS_PORT alone: the listener asks for no token (it is reached only where METRICS_HOST listens).
    open = await startHarness({ env: { METRICS_PORT: '0' } });
    openAddress = (await open.app.metricsListener?.listen()) ?? '';
  });
  afterAll(async () => {
    await h?.close();
    await open?.close();
  });

  it('serves /metrics there, behind the token when one is set, with the API’s requests in it', async () => {
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const user = await h.newAccount();
    expect((await h.inject({ method: 'GET', url: '/me', headers: user.auth })).statusCode).toBe(200);
    const response = await fetch(`${address}/metrics`, { headers: bearer(TOKEN) });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await response.text();
    for (const [name, kind] of Object.entries(FAMILIES)) expect(families(text).get(name), name).toBe(kind);
    expect(sampleValue(parseExposition(text), 'skaledata_http_request_duration_seconds_count', { route: '/me', method: 'GET', status_code: '200' })).toBe(1);

    for (const [headers, code, challenge] of [
      [{}, 'unauthenticated', 'Bearer realm="skaledata"'],
      [bearer('wrong-token-wrong-token'), 'invalid_token', 'Bearer realm="skaledata", error="invalid_token"'],
    ] as const) {
      const refused = await fetch(`${address}/metrics`, { headers });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
      expect(refused.headers.get('www-authenticate')).toBe(challenge);
      expect(((await refused.json()) as Problem).code).toBe(code);
    }
  });

  it('answers 404 problem+json for anything but GET /metrics there, and the API port has no /metrics', async () => {
    for (const [method, path] of [['GET', '/'], ['GET', '/me'], ['POST', '/metrics'], ['GET', '/metrics/x']]) {
      const response = await fetch(`${address}${path}`, { method, headers: bearer(TOKEN) });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(((await response.json()) as Problem).code).toBe('not_found');
    }
    expectProblem(await h.inject({ method: 'GET', url: '/metrics', headers: bearer(TOKEN) }), 404, 'not_found');
    expect(h.app.hasRoute({ method: 'GET', url: '/metrics' })).toBe(false);
  });

  it('without METRICS_TOKEN, serves the listener to any scraper that reaches it', async () => {
    const response = await fetch(`${openAddress}/metrics`);
    expect(response.status).toBe(200);
    expect(families(await response.text()).get('skaledata_http_request_duration_seconds')).toBe('histogram');
    expectProblem(await open.inject({ method: 'GET', url: '/metrics' }), 404, 'not_found');
  });
});
