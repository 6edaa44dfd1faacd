import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNodePool, destroyCluster, midNextMonth, moveClockTo, removeNodePool, resizeNodePool } from '../helpers/billing-fixtures.js';
import { createCluster } from '../helpers/fixtures.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import type { Problem } from '../helpers/problem.js';

/**
 * Billing (issue 3 item 10): GET /billing for users and `full` keys, plan changes and portal sessions
 * for users only (seed: "POST /billing/* — billing management" rejects API keys), and usage computed
 * from the usage records the cluster and node pool jobs open and close, on a clock the test moves.
 */

interface BillingBody {
  plan: string;
  status: string;
  monthly_price_cents: number;
  current_period: { start: string; end: string };
  usage: { cluster_hours: number; node_hours: number };
  limits: { max_clusters: number; included_cluster_hours: number; included_node_hours: number };
  provider: string;
}

const HOUR = 3_600_000;
const PUBLIC_URL = 'https://api.skaledata.test';
const NON_FULL_SCOPES = ['clusters:read', 'clusters:write', 'apps:read', 'apps:deploy', 'apps:manage', 'jobs:read', 'terminal:exec'];

/** The calendar month (UTC) of the clock's "now", as the API should report it. */
function monthOf(now: Date): { start: string; end: string } {
  return {
    start: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString(),
    end: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString(),
  };
}

describe(`billing (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ clock, runJobs: true, env: { PUBLIC_URL } });
    moveClockTo(clock, midNextMonth());
  });
  afterAll(async () => {
    await h.close();
  });

  const billing = async (headers: Record<string, string>): Promise<BillingBody> => {
    const response = await h.inject({ method: 'GET', url: '/billing', headers });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as BillingBody;
  };
  const usage = async (account: Account) => (await billing(account.auth)).usage;

  it('starts an account on the free plan for the current calendar month, made on first read', async () => {
    const a = await h.newAccount({ plan: 'free' });
    const rows = () => h.deps.database.db.selectFrom('billing_accounts').selectAll().where('account_id', '=', a.accountId).execute();
    expect(await rows()).toHaveLength(0);
    expect(await billing(a.auth)).toEqual({
      plan: 'free',
      status: 'active',
      monthly_price_cents: 0,
      current_period: monthOf(clock.now()),
      usage: { cluster_hours: 0, node_hours: 0 },
      limits: { max_clusters: 1, included_cluster_hours: 750, included_node_hours: 1500 },
      provider: 'local',
    });
    expect(await rows()).toHaveLength(1);
    // Concurrent first reads agree on one row.
    const b = await h.newAccount({ plan: 'free' });
    const all = await Promise.all([billing(b.auth), billing(b.auth), billing(b.auth)]);
    expect(new Set(all.map((body) => JSON.stringify(body))).size).toBe(1);
  });

  it('counts cluster hours and node hours from the jobs, through resize, pool removal and destroy, per account', async () => {
    const a = await h.newAccount({ plan: 'free' });
    const b = await h.newAccount({ plan: 'free' });
    const { clusterId } = await createCluster(h, a, { wait: true });
    const poolId = await addNodePool(h, a, clusterId, 3);
    await createCluster(h, b, { wait: true });

    clock.advance(2 * HOUR);
    expect(await usage(a)).toEqual({ cluster_hours: 2, node_hours: 6 });
    expect(await usage(b)).toEqual({ cluster_hours: 2, node_hours: 0 });

    await resizeNodePool(h, a, clusterId, poolId, 5);
    clock.advance(HOUR);
    expect(await usage(a)).toEqual({ cluster_hours: 3, node_hours: 6 + 5 });

    const second = await addNodePool(h, a, clusterId, 2, 'spare');
    clock.advance(HOUR);
    expect(await usage(a)).toEqual({ cluster_hours: 4, node_hours: 11 + 5 + 2 });
    await removeNodePool(h, a, clusterId, second);
    clock.advance(HOUR);
    expect(await usage(a)).toEqual({ cluster_hours: 5, node_hours: 18 + 5 });

    await destroyCluster(h, a, clusterId);
    clock.advance(4 * HOUR);
    expect(await usage(a)).toEqual({ cluster_hours: 5, node_hours: 23 });
    // B's cluster kept running all along and only B sees it.
    expect(await usage(b)).toEqual({ cluster_hours: 9, node_hours: 0 });

    const records = await h.deps.database.db.selectFrom('usage_records').selectAll().where('account_id', '=', a.accountId).orderBy('id').execute();
    expect(records.map((r) => [r.resource_type, r.resource_id === clusterId ? 'cluster' : r.resource_id === poolId ? 'pool' : 'spare', r.quantity])).toEqual([
      ['cluster', 'cluster', 1],
      ['node_pool', 'pool', 3],
      ['node_pool', 'pool', 5],
      ['node_pool', 'spare', 2],
    ]);
    expect(records.every((r) => r.ended_at !== null)).toBe(true);
    // The resize closed one record and opened the next at the same instant: no gap, no overlap.
    expect(records[1]?.ended_at).toBe(records[2]?.started_at);
  });

  it('changes plan as a user, idempotently, and names the valid plans for an unknown one', async () => {
    const a = await h.newAccount({ plan: 'free' });
    const changed = await h.inject({ method: 'POST', url: '/billing/subscription', headers: a.auth, payload: { plan: 'team' } });
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toMatchObject({
      plan: 'team',
      status: 'active',
      monthly_price_cents: 49_900,
      limits: { max_clusters: 5, included_cluster_hours: 3750, included_node_hours: 15_000 },
      provider: 'local',
    });
    expect((await billing(a.auth)).plan).toBe('team');

    const row = async () => h.deps.database.db.selectFrom('billing_accounts').selectAll().where('account_id', '=', a.accountId).executeTakeFirstOrThrow();
    const before = await row();
    expect(before.provider_customer_id).toMatch(/^local_cus_[0-9A-Za-z]{20}$/);
    clock.advance(1000);
    const same = await h.inject({ method: 'POST', url: '/billing/subscription', headers: a.auth, payload: { plan: 'team' } });
    expect(same.statusCode).toBe(200);
    expect((same.json() as BillingBody).plan).toBe('team');
    expect(await row()).toEqual(before);

    const up = await h.inject({ method: 'POST', url: '/billing/subscription', headers: a.auth, payload: { plan: 'business' } });
    expect((up.json() as BillingBody).limits.max_clusters).toBe(25);
    // The customer is made once and kept.
    expect((await row()).provider_customer_id).toBe(before.provider_customer_id);

    for (const [payload, detail] of [
      [{ plan: 'enterprise' }, 'plan: must be one of: free, team, business'],
      [{ plan: 7 }, 'plan: must be one of: free, team, business'],
      [{}, 'plan: is required'],
      [{ plan: 'free', coupon: 'FREE100' }, 'coupon: is not a known field'],
    ] as const) {
      const refused = await h.inject({ method: 'POST', url: '/billing/subscription', headers: a.auth, payload });
      expect(refused.statusCode).toBe(400);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.json() as Problem).toMatchObject({ code: 'validation_failed', detail });
    }
    expect((await billing(a.auth)).plan).toBe('business');
  });

  it('gives a user a local portal link that expires in 15 minutes and leads to a page saying no payments are taken', async () => {
    const a = await h.newAccount({ plan: 'free' });
    const before = clock.now().getTime();
    const response = await h.inject({ method: 'POST', url: '/billing/portal-session', headers: a.auth });
    expect(response.statusCode).toBe(201);
    const session = response.json() as { url: string; expires_at: string };
    expect(Object.keys(session).sort()).toEqual(['expires_at', 'url']);
    expect(session.url).toMatch(/^https:\/\/api\.skaledata\.test\/billing\/local-portal\?session=[0-9A-Za-z]{32}$/);
    const ttl = Date.parse(session.expires_at) - before;
    expect(ttl).toBeGreaterThanOrEqual(15 * 60 * 1000);
    expect(ttl).toBeLessThan(15 * 60 * 1000 + 5000);

    const other = (await h.inject({ method: 'POST', url: '/billing/portal-session', headers: a.auth, payload: {} })).json() as { url: string };
    expect(other.url).not.toBe(session.url);
    const extra = await h.inject({ method: 'POST', url: '/billing/portal-session', headers: a.auth, payload: { return_url: 'https://evil.example' } });
    expect(extra.statusCode).toBe(400);
    expect((extra.json() as Problem).detail).toBe('return_url: is not a known field');

    const page = await h.inject({ method: 'GET', url: session.url.slice(PUBLIC_URL.length) });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('It takes no');
    expect(page.body).toContain('local');
    expect(page.body).not.toContain(a.accountId);
    const bad = await h.inject({ method: 'GET', url: '/billing/local-portal?session=../../etc' });
    expect(bad.statusCode).toBe(400);
  });

  it('refuses every API key, full included, on the two POSTs with user_session_required and changes nothing', async () => {
    const a = await h.newAccount({ plan: 'free' });
    for (const scopes of [['full'], ...NON_FULL_SCOPES.map((s) => [s]), ['clusters:read', 'clusters:write']]) {
      const { key } = await h.createKey(a, scopes);
      for (const [url, payload] of [
        ['/billing/subscription', { plan: 'business' }],
        ['/billing/portal-session', {}],
      ] as const) {
        const response = await h.inject({ method: 'POST', url, headers: bearer(key), payload });
        expect(response.statusCode, `${scopes.join(',')} ${url}`).toBe(403);
        expect(response.json() as Problem).toMatchObject({
          code: 'user_session_required',
          detail: 'This endpoint requires a user session and does not accept API keys.',
        });
      }
    }
    // Refused before any handler ran: not even the lazy billing row was made.
    expect(await h.deps.database.db.selectFrom('billing_accounts').selectAll().where('account_id', '=', a.accountId).execute()).toHaveLength(0);
    expect((await billing(a.auth)).plan).toBe('free');
  });

  it('lets a full key read billing and refuses every other key with the exact full-scope message', async () => {
    const a = await h.newAccount({ plan: 'free' });
    const full = await h.createKey(a, ['full']);
    expect((await billing(bearer(full.key))).plan).toBe('free');
    for (const scope of NON_FULL_SCOPES) {
      const { key } = await h.createKey(a, [scope]);
      const response = await h.inject({ method: 'GET', url: '/billing', headers: bearer(key) });
      expect(response.statusCode, scope).toBe(403);
      expect(response.json() as Problem).toMatchObject({ code: 'insufficient_scope', detail: 'API key missing required scope: full', required_scope: 'full' });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="insufficient_scope", scope="full"');
    }
    const unauthenticated = await h.inject({ method: 'GET', url: '/billing' });
    expect(unauthenticated.statusCode).toBe(401);
  });
});

describe(`billing period rollover (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ clock, runJobs: true });
  });
  afterAll(async () => {
    await h.close();
  });

  it('moves to the next calendar month and counts only the hours inside it', async () => {
    const nextMonth = new Date(midNextMonth());
    const monthEnd = Date.UTC(nextMonth.getUTCFullYear(), nextMonth.getUTCMonth() + 1, 1);
    moveClockTo(clock, new Date(monthEnd - 2 * HOUR).toISOString());
    const a = await h.newAccount({ plan: 'free' });
    await createCluster(h, a, { wait: true });

    const first = (await h.inject({ method: 'GET', url: '/billing', headers: a.auth })).json() as BillingBody;
    expect(first.current_period.end).toBe(new Date(monthEnd).toISOString());
    expect(first.usage.cluster_hours).toBe(0);

    clock.advance(5 * HOUR);
    const second = (await h.inject({ method: 'GET', url: '/billing', headers: a.auth })).json() as BillingBody;
    expect(second.current_period).toEqual(monthOf(clock.now()));
    expect(second.current_period.start).toBe(new Date(monthEnd).toISOString());
    // Five hours ran, two of them in the previous month.
    expect(second.usage.cluster_hours).toBe(3);
  });
});
