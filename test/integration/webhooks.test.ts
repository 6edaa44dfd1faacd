import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

interface Delivery {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  attempt_log: Array<{ at: string; status_code: number | null; error: string | null; response_body: string | null }>;
}

/**
 * Outgoing webhooks (CONTRACT §7) through the API, delivered to a real receiver on 127.0.0.1 that checks
 * every signature with standardwebhooks' own verifier. The API harness runs no worker; each test starts
 * the delivery "instances" it needs on the same database (buildApp with runJobs), so restarts and
 * hand-overs between instances are real.
 */
describe(`webhooks (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;
  let receiver: WebhookReceiver;
  const instances: App[] = [];

  beforeAll(async () => {
    h = await startHarness({ clock, env: { WEBHOOK_ALLOW_PRIVATE: 'on', WEBHOOK_TIMEOUT_MS: '1500' } });
  });
  afterAll(async () => h?.close());

  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.close();
    await receiver?.close();
  });

  async function startInstance(name: string, config = h.deps.config): Promise<App> {
    const instance = await buildApp({ ...h.deps, config, runJobs: true, instanceId: name });
    instances.push(instance);
    return instance;
  }

  async function stopInstance(instance: App): Promise<void> {
    instances.splice(instances.indexOf(instance), 1);
    await instance.close();
  }

  /** By default subscribed to an event no test raises: only test messages reach it, in the order sent. */
  async function createWebhook(account: Account, url: string, eventTypes: string[] = ['api_key.expiring']) {
    const response = await h.inject({ method: 'POST', url: '/webhooks', headers: account.auth, payload: { url, event_types: eventTypes } });
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { id: string; secret: string; event_types: string[]; status: string };
  }

  async function deliveries(account: Account, webhookId: string): Promise<Delivery[]> {
    const response = await h.inject({ method: 'GET', url: `/webhooks/${webhookId}/deliveries`, headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as { data: Delivery[] }).data;
  }

  async function sendTest(account: Account, webhookId: string): Promise<Delivery> {
    const response = await h.inject({ method: 'POST', url: `/webhooks/${webhookId}/test`, headers: account.auth });
    expect(response.statusCode, response.body).toBe(202);
    return response.json() as Delivery;
  }

  /** The delivery once `check` holds for it (polled through GET /webhooks/{id}/deliveries). */
  const deliveryWhen = (account: Account, webhookId: string, id: string, check: (d: Delivery) => boolean) =>
    waitFor(async () => (await deliveries(account, webhookId)).find((d) => d.id === id && check(d)), 10_000);

  it('shows the whsec_ secret once, stores it sealed, and records webhook.created', async () => {
    receiver = await new WebhookReceiver().listen();
    const a = await h.newAccount();
    // Some receivers keep their own secret in the URL (Slack's incoming webhooks): events name only the host.
    const url = receiver.url('/services/T0001/B0001/receiverOwnSecret');
    const created = await createWebhook(a, url, ['api_key.revoked', 'api_key.created']);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.event_types).toEqual(['api_key.created', 'api_key.revoked']);

    const list = await h.inject({ method: 'GET', url: '/webhooks', headers: a.auth });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(created.secret);
    expect(list.body).not.toContain('secret');
    const stored = await h.deps.database.db.selectFrom('webhooks').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(stored.secret_encrypted).not.toContain(created.secret.slice(6));

    const events = await h.inject({ method: 'GET', url: '/events?type=webhook.created', headers: a.auth });
    expect((events.json() as { data: Array<{ subject: { id: string } }> }).data.map((e) => e.subject.id)).toEqual([created.id]);
    expect(events.json()).toMatchObject({ data: [{ data: { host: new URL(url).host } }] });
    expect(events.body).not.toContain('receiverOwnSecret');
  });

  it('delivers each key event and the test event once, signed, to the endpoints subscribed to it', async () => {
    receiver = await new WebhookReceiver().listen();
    const a = await h.newAccount();
    const all = await createWebhook(a, receiver.url('/all'), ['*']);
    const revokedOnly = await createWebhook(a, receiver.url('/revoked'), ['api_key.revoked']);
    await startInstance('one');

    const key = await h.createKey(a, ['clusters:read']);
    expect((await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers: a.auth, payload: { name: 'renamed' } })).statusCode).toBe(200);
    expect((await h.inject({ method: 'POST', url: `/api-keys/${key.id}/roll`, headers: a.auth, payload: { expires_in_seconds: 0 } })).statusCode).toBe(200);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: a.auth })).statusCode).toBe(204);
    await sendTest(a, all.id);

    // Its own webhook.created, and the second endpoint's, reach the endpoint subscribed to everything.
    const expected = ['webhook.created', 'webhook.created', 'api_key.created', 'api_key.changed', 'api_key.rolled', 'api_key.revoked', 'webhook.test'];
    await waitFor(async () => (receiver.received.filter((r) => r.path === '/all').length >= expected.length && receiver.received.some((r) => r.path === '/revoked') ? true : undefined));
    const toAll = receiver.received.filter((r) => r.path === '/all').map((r) => ({ id: r.headers['webhook-id'], body: WebhookReceiver.verify(all.secret, r) }));
    expect(toAll.map((r) => r.body.type).sort()).toEqual([...expected].sort());
    expect(new Set(toAll.map((r) => r.id)).size).toBe(expected.length);
    expect(new Set(toAll.map((r) => (r.body.data as { id?: string }).id ?? r.body.type)).size).toBe(expected.length);
    const revoked = toAll.find((r) => r.body.type === 'api_key.revoked');
    expect(revoked?.body.data).toMatchObject({ type: 'api_key.revoked', subject: { type: 'api_key', id: key.id } });
    expect(JSON.stringify(toAll)).not.toContain(key.key);

    const toRevoked = receiver.received.filter((r) => r.path === '/revoked');
    expect(toRevoked.map((r) => WebhookReceiver.verify(revokedOnly.secret, r).type)).toEqual(['api_key.revoked']);
    // Signed with its own endpoint's secret only.
    expect(() => WebhookReceiver.verify(all.secret, toRevoked[0]!)).toThrow();

    await waitFor(async () => ((await deliveries(a, all.id)).every((d) => d.status === 'succeeded') ? true : undefined));
    const listed = await deliveries(a, all.id);
    expect(listed).toHaveLength(expected.length);
    for (const d of listed) expect(d).toMatchObject({ attempts: 1, next_attempt_at: null, last_status_code: 200, last_error: null });
  });

  it('retries after a 500 with backoff shown in the deliveries, under the same webhook-id', async () => {
    receiver = await new WebhookReceiver().listen();
    receiver.answer({ status: 500, body: 'down' });
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url(), ['api_key.created']);
    await startInstance('one');
    await h.createKey(a);

    const [queued] = await deliveries(a, hook.id);
    const failed = await deliveryWhen(a, hook.id, queued!.id, (d) => d.attempts === 1);
    expect(failed).toMatchObject({ status: 'pending', last_status_code: 500, last_error: 'status 500' });
    const wait = Date.parse(failed.next_attempt_at!) - Date.parse(failed.attempt_log[0]!.at);
    expect(wait).toBeGreaterThanOrEqual(4_500);
    expect(wait).toBeLessThanOrEqual(5_500);
    expect(failed.attempt_log[0]).toMatchObject({ status_code: 500, response_body: 'down' });

    clock.advance(6_000);
    const delivered = await deliveryWhen(a, hook.id, queued!.id, (d) => d.status === 'succeeded');
    expect(delivered).toMatchObject({ attempts: 2, last_status_code: 200, next_attempt_at: null });
    expect(receiver.received).toHaveLength(2);
    expect(receiver.received[0]!.headers['webhook-id']).toBe(queued!.id);
    expect(receiver.received[1]!.headers['webhook-id']).toBe(queued!.id);
    WebhookReceiver.verify(hook.secret, receiver.received[1]!);
  });

  it('gives up an attempt at the timeout and retries', async () => {
    receiver = await new WebhookReceiver().listen();
    receiver.answer('hang');
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    await startInstance('one');
    const test = await sendTest(a, hook.id);
    const failed = await deliveryWhen(a, hook.id, test.id, (d) => d.attempts === 1);
    expect(failed.last_status_code).toBeNull();
    expect(failed.last_error).toBe('timed out after 1500 ms');
    clock.advance(6_000);
    await deliveryWhen(a, hook.id, test.id, (d) => d.status === 'succeeded');
  });

  it('follows no redirect and keeps at most 1 KiB of a response body', async () => {
    receiver = await new WebhookReceiver().listen();
    receiver.answer({ status: 302, headers: { location: receiver.url('/elsewhere') } }, { status: 500, body: 'x'.repeat(100_000) });
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    await startInstance('one');
    const test = await sendTest(a, hook.id);
    const redirected = await deliveryWhen(a, hook.id, test.id, (d) => d.attempts === 1);
    expect(redirected).toMatchObject({ status: 'pending', last_status_code: 302, last_error: 'redirect (302) not followed' });
    clock.advance(6_000);
    const big = await deliveryWhen(a, hook.id, test.id, (d) => d.attempts === 2);
    expect(big.attempt_log[1]!.response_body).toBe('x'.repeat(1024));
    const wait = Date.parse(big.next_attempt_at!) - Date.parse(big.attempt_log[1]!.at);
    expect(wait).toBeGreaterThanOrEqual(27_000);
    expect(wait).toBeLessThanOrEqual(33_000);
    expect(receiver.received.map((r) => r.path)).toEqual(['/hook', '/hook']);
  });

  it('an attempt cut short by a restart is sent again by the next instance', async () => {
    receiver = await new WebhookReceiver().listen();
    receiver.answer('hang');
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    const first = await startInstance('first');
    const test = await sendTest(a, hook.id);
    await waitFor(async () => (receiver.received.length === 1 ? true : undefined));
    // Stopped mid-attempt: the attempt is aborted, not recorded, and its lease handed back.
    await stopInstance(first);
    expect((await deliveries(a, hook.id))[0]).toMatchObject({ status: 'pending', attempts: 0 });

    await startInstance('second');
    const delivered = await deliveryWhen(a, hook.id, test.id, (d) => d.status === 'succeeded');
    expect(delivered.attempts).toBe(1);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([test.id, test.id]);
  });

  // PostgreSQL only: on SQLite one process owns the database, and an instance starting takes back every
  // lease at once (leases left by a crash), as the job runner does.
  it.skipIf(TEST_DIALECT !== 'postgres')('two instances on one database send each message once', async () => {
    receiver = await new WebhookReceiver().listen();
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) sent.push((await sendTest(a, hook.id)).id);
    await Promise.all([startInstance('left'), startInstance('right')]);
    await waitFor(async () => ((await deliveries(a, hook.id)).every((d) => d.status === 'succeeded') ? true : undefined));
    const ids = receiver.received.map((r) => String(r.headers['webhook-id']));
    expect(ids.sort()).toEqual([...sent].sort());
    for (const d of await deliveries(a, hook.id)) expect(d.attempts).toBe(1);
  });

  it("an instance that stops renewing loses its delivery to another, and its late outcome is not recorded", async () => {
    receiver = await new WebhookReceiver().listen();
    receiver.answer('hang');
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    await startInstance('stalled');
    const test = await sendTest(a, hook.id);
    await waitFor(async () => (receiver.received.length === 1 ? true : undefined));
    // The stalled instance's lease runs out (as after a crash): moved on the database's clock by hand.
    await h.deps.database.db.updateTable('webhook_deliveries').set({ lease_expires_at: new Date(0).toISOString() }).where('id', '=', test.id).execute();
    await startInstance('rescuer');
    await deliveryWhen(a, hook.id, test.id, (d) => d.status === 'succeeded');
    // The stalled attempt times out (1.5 s) after the rescue; its write is fenced off by the lease.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const [after] = await deliveries(a, hook.id);
    expect(after).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200 });
    expect(after!.attempt_log).toHaveLength(1);
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual([test.id, test.id]);
  });

  it('a restart between retries still delivers', async () => {
    receiver = await new WebhookReceiver().listen();
    receiver.answer({ status: 503 });
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    const first = await startInstance('first');
    const test = await sendTest(a, hook.id);
    await deliveryWhen(a, hook.id, test.id, (d) => d.attempts === 1);
    await stopInstance(first);
    clock.advance(6_000);
    await startInstance('second');
    const delivered = await deliveryWhen(a, hook.id, test.id, (d) => d.status === 'succeeded');
    expect(delivered.attempt_log.map((x) => x.status_code)).toEqual([503, 200]);
  });

  it('refuses the destination again at delivery when private addresses are not allowed', async () => {
    receiver = await new WebhookReceiver().listen();
    const a = await h.newAccount();
    const plain = await createWebhook(a, receiver.url());
    // https to a name that resolves to loopback: the scheme passes, the resolved address does not.
    const named = await createWebhook(a, `https://localhost:${receiver.port}/hook`);
    await startInstance('strict', { ...h.deps.config, webhooks: { ...h.deps.config.webhooks, allowPrivate: false } });
    const plainTest = await sendTest(a, plain.id);
    const namedTest = await sendTest(a, named.id);
    const refusedPlain = await deliveryWhen(a, plain.id, plainTest.id, (d) => d.attempts === 1);
    expect(refusedPlain.last_error).toBe('destination refused: must be https');
    const refusedNamed = await deliveryWhen(a, named.id, namedTest.id, (d) => d.attempts === 1);
    expect(refusedNamed.last_error).toMatch(/^destination refused: resolves to (127\.0\.0\.1|::1), which is a loopback/);
    expect(receiver.received).toHaveLength(0);
  });

  it('removes an endpoint (webhook.deleted), gives up its pending deliveries, and keeps tenants apart', async () => {
    receiver = await new WebhookReceiver().listen();
    const a = await h.newAccount();
    const b = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    const pending = await sendTest(a, hook.id);

    for (const [method, url] of [
      ['DELETE', `/webhooks/${hook.id}`],
      ['POST', `/webhooks/${hook.id}/test`],
      ['GET', `/webhooks/${hook.id}/deliveries`],
    ] as const) {
      const foreign = await h.inject({ method, url, headers: b.auth });
      expect(foreign.statusCode, `${method} ${url}`).toBe(404);
    }
    expect((await h.inject({ method: 'GET', url: '/webhooks', headers: b.auth })).json()).toEqual({ data: [], next_cursor: null });

    expect((await h.inject({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: a.auth })).statusCode).toBe(204);
    expect((await h.inject({ method: 'DELETE', url: `/webhooks/${hook.id}`, headers: a.auth })).statusCode).toBe(404);
    expect((await h.inject({ method: 'GET', url: '/webhooks', headers: a.auth })).json()).toEqual({ data: [], next_cursor: null });
    const row = await h.deps.database.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', pending.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'failed', next_attempt_at: null, last_error: 'the endpoint was deleted' });
    const events = await h.inject({ method: 'GET', url: '/events?type=webhook.deleted', headers: a.auth });
    expect((events.json() as { data: Array<{ subject: { id: string } }> }).data.map((e) => e.subject.id)).toEqual([hook.id]);
  });

  it('disables an endpoint that failed for 3 days, with webhook.disabled', async () => {
    receiver = await new WebhookReceiver().listen();
    receiver.answer(...Array<{ status: number }>(20).fill({ status: 500 }));
    const a = await h.newAccount();
    const hook = await createWebhook(a, receiver.url());
    await startInstance('one');
    const first = await sendTest(a, hook.id);
    await deliveryWhen(a, hook.id, first.id, (d) => d.attempts === 1);
    let listed = (await h.inject({ method: 'GET', url: '/webhooks', headers: a.auth })).json() as { data: Array<{ status: string; failing_since: string | null }> };
    expect(listed.data[0]).toMatchObject({ status: 'enabled', failing_since: expect.any(String) });

    clock.advance(3 * 24 * 3_600_000 + 60_000);
    const later = await sendTest(a, hook.id);
    await waitFor(async () => {
      const rows = (await h.inject({ method: 'GET', url: '/webhooks', headers: a.auth })).json() as { data: Array<{ status: string }> };
      return rows.data[0]?.status === 'disabled' ? true : undefined;
    });
    const events = await h.inject({ method: 'GET', url: '/events?type=webhook.disabled', headers: a.auth });
    const disabled = (events.json() as { data: Array<{ subject: { id: string }; actor: { type: string; id: string } }> }).data;
    expect(disabled).toHaveLength(1);
    expect(disabled[0]).toMatchObject({ subject: { id: hook.id }, actor: { type: 'system', id: 'webhook_delivery' } });
    listed = (await h.inject({ method: 'GET', url: '/webhooks', headers: a.auth })).json() as typeof listed;
    expect(listed.data[0]).toMatchObject({ status: 'disabled' });
    const states = (await deliveries(a, hook.id)).map((d) => d.status);
    expect(states).not.toContain('pending');
    expect([first.id, later.id].length).toBe(2);
    const refused = await h.inject({ method: 'POST', url: `/webhooks/${hook.id}/test`, headers: a.auth });
    expect(refused.statusCode).toBe(409);
  });
});

describe(`webhook destinations at creation (${TEST_DIALECT})`, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it.each([
    ['https://127.0.0.1/hook', /resolves to 127\.0\.0\.1/],
    ['https://10.1.2.3/hook', /resolves to 10\.1\.2\.3/],
    ['https://169.254.169.254/latest/meta-data', /resolves to 169\.254\.169\.254/],
    ['https://[::1]/hook', /resolves to ::1/],
    ['https://[::ffff:127.0.0.1]/hook', /embeds/],
    ['https://localhost/hook', /resolves to (127\.0\.0\.1|::1)/],
    ['http://203.0.114.10/hook', /must be https/],
    ['https://user:secret@203.0.114.10/hook', /credentials/],
    ['https://203.0.114.10/hook#part', /fragment/],
    [`https://203.0.114.10/${'a'.repeat(2030)}`, /at most 2048/],
  ])('refuses %s with a 400 naming url, storing nothing', async (url, message) => {
    const a = await h.newAccount();
    const response = await h.inject({ method: 'POST', url: '/webhooks', headers: a.auth, payload: { url, event_types: ['*'] } });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    const problem = response.json() as { errors: Array<{ path: string; message: string }> };
    expect(problem.errors).toHaveLength(1);
    expect(problem.errors[0]!.path).toBe('url');
    expect(problem.errors[0]!.message).toMatch(message);
    const rows = await h.deps.database.db.selectFrom('webhooks').select('id').where('account_id', '=', a.accountId).execute();
    expect(rows).toEqual([]);
  });

  it('refuses unknown event types naming each, and an empty list', async () => {
    const a = await h.newAccount();
    const unknown = await h.inject({ method: 'POST', url: '/webhooks', headers: a.auth, payload: { url: 'https://203.0.114.10/h', event_types: ['api_key.created', 'api_key.exploded'] } });
    expect(unknown.statusCode).toBe(400);
    expect((unknown.json() as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toEqual(['event_types.1']);
    const empty = await h.inject({ method: 'POST', url: '/webhooks', headers: a.auth, payload: { url: 'https://203.0.114.10/h', event_types: [] } });
    expect(empty.statusCode).toBe(400);
    expect(empty.body).toContain('event_types');
  });

  it('accepts a public address', async () => {
    const a = await h.newAccount();
    const response = await h.inject({ method: 'POST', url: '/webhooks', headers: a.auth, payload: { url: 'https://203.0.114.10/h', event_types: ['*'] } });
    expect(response.statusCode, response.body).toBe(201);
  });
});
