import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, deploy, IMAGE_V1 } from '../helpers/apps-fixtures.js';
import { AWS_CREDENTIALS, createCloud, createCluster, waitForJob } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';
import { tablesOf } from '../helpers/statements.js';

/**
 * Issue 13 item 1: the audit trail. Every change made through the API records one event, written in the
 * change's own transaction: who (user or key), from where (client address, user agent), about what, and
 * a few facts, never a secret; GET /events pages and filters them.
 */
interface EventBody {
  id: string;
  type: string;
  created_at: string;
  actor: { type: string; id: string | null; client_ip: string | null; user_agent: string | null };
  subject: { type: string; id: string };
  data: Record<string, unknown>;
}

/** Makes inserts into `events` fail like a full disk, while armed: the change they belong to must fail with them. */
class EventInsertFault implements KyselyPlugin {
  armed = false;
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (this.armed && node.kind === 'InsertQueryNode' && tablesOf(node).includes('events')) {
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    }
    return node;
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }
}

const AGENT = 'events-test/1.0';

async function allEvents(h: Harness, account: Account, query = ''): Promise<EventBody[]> {
  const events: EventBody[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/events?limit=2${query}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const response = await h.inject({ method: 'GET', url, headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    const page = response.json() as { data: EventBody[]; next_cursor: string | null };
    events.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return events;
}

describe(`GET /events: the audit trail (${TEST_DIALECT})`, () => {
  const fault = new EventInsertFault();
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, plugins: [fault] });
  });
  afterAll(async () => h?.close());

  it('records each change once, with its actor, client address and user agent, oldest last, and no secret', async () => {
    const user = await h.newAccount();
    // The harness put the account on a bigger plan: that change is in the trail already.
    const setUp = await allEvents(h, user);
    expect(setUp.map((event) => event.type)).toEqual(['billing.plan_changed']);
    const headers = { ...user.auth, 'user-agent': AGENT };
    const created = await h.inject({ method: 'POST', url: '/api-keys', headers, payload: { name: 'ci', scopes: ['full'] } });
    expect(created.statusCode).toBe(201);
    const key = created.json() as { id: string; key: string };
    expect((await h.inject({ method: 'PATCH', url: `/api-keys/${key.id}`, headers, payload: { name: 'ci-renamed' } })).statusCode).toBe(200);
    const rolled = await h.inject({ method: 'POST', url: `/api-keys/${key.id}/roll`, headers, payload: { expires_in_seconds: 60 } });
    expect(rolled.statusCode).toBe(200);
    const newSecret = (rolled.json() as { key: string }).key;

    // The key itself changes things: the events name it as the actor.
    const byKey = { authorization: `Bearer ${newSecret}`, 'user-agent': 'pipeline/2' };
    const cloud = await h.inject({ method: 'POST', url: '/clouds', headers: byKey, payload: { name: 'main', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS } });
    expect(cloud.statusCode, cloud.body).toBe(201);
    const cloudId = (cloud.json() as { id: string }).id;
    const cluster = await h.inject({ method: 'POST', url: '/clusters', headers: byKey, payload: { name: 'events', cloud_id: cloudId } });
    expect(cluster.statusCode).toBe(202);
    const { cluster: { id: clusterId }, job: clusterJob } = cluster.json() as { cluster: { id: string }; job: { id: string } };
    expect((await waitForJob(h, user, clusterJob.id)).status).toBe('succeeded');
    const app = await createApp(h, user, clusterId);
    const shipped = await deploy(h, user, app.id, IMAGE_V1);
    await waitForJob(h, user, shipped.job.id);
    const removed = await h.inject({ method: 'DELETE', url: `/apps/${app.id}`, headers });
    expect(removed.statusCode).toBe(202);
    await waitForJob(h, user, (removed.json() as { job: { id: string } }).job.id);
    const destroyed = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers });
    expect(destroyed.statusCode).toBe(202);
    await waitForJob(h, user, (destroyed.json() as { job: { id: string } }).job.id);
    expect((await h.inject({ method: 'DELETE', url: `/clouds/${cloudId}`, headers })).statusCode).toBe(204);
    expect((await h.inject({ method: 'POST', url: '/billing/subscription', headers, payload: { plan: 'team' } })).statusCode).toBe(200);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers })).statusCode).toBe(204);

    const events = (await allEvents(h, user)).slice(0, -setUp.length);
    expect(events.map((event) => event.type).reverse()).toEqual([
      'api_key.created',
      'api_key.changed',
      'api_key.rolled',
      'cloud.created',
      'cluster.created',
      'app.created',
      'deploy.created',
      'app.deleted',
      'cluster.deleted',
      'cloud.deleted',
      'billing.plan_changed',
      'api_key.revoked',
    ]);
    const byType = new Map(events.map((event) => [event.type, event]));
    const userActor = { type: 'user', id: user.userId, client_ip: '127.0.0.1', user_agent: AGENT };
    expect(byType.get('api_key.created')).toMatchObject({ actor: userActor, subject: { type: 'api_key', id: key.id }, data: { name: 'ci', scopes: ['full'], canary: false } });
    expect(byType.get('api_key.changed')).toMatchObject({ data: { changed: ['name'] } });
    expect(byType.get('api_key.rolled')?.data['old_secret_works_until']).toEqual(expect.any(String));
    expect(byType.get('cloud.created')).toMatchObject({
      actor: { type: 'api_key', id: key.id, client_ip: '127.0.0.1', user_agent: 'pipeline/2' },
      subject: { type: 'cloud', id: cloudId },
      data: { name: 'main', provider: 'aws', region: 'us-east-1' },
    });
    expect(byType.get('cluster.created')).toMatchObject({ actor: { type: 'api_key', id: key.id }, subject: { type: 'cluster', id: clusterId }, data: { cloud_id: cloudId, job_id: clusterJob.id } });
    expect(byType.get('app.created')).toMatchObject({ actor: { type: 'user' }, subject: { type: 'app', id: app.id }, data: { cluster_id: clusterId } });
    expect(byType.get('deploy.created')).toMatchObject({ subject: { type: 'deploy', id: shipped.deploy.id }, data: { app_id: app.id, image: IMAGE_V1, job_id: shipped.job.id } });
    expect(byType.get('billing.plan_changed')).toMatchObject({ subject: { type: 'billing', id: user.accountId }, data: { from: 'business', to: 'team' } });
    expect(byType.get('api_key.revoked')).toMatchObject({ actor: userActor, data: { reason: 'revoked' } });
    // No secret anywhere: neither secret of the key, nor the cloud's credentials.
    const text = JSON.stringify(events);
    for (const secret of [key.key, newSecret, AWS_CREDENTIALS.secret_access_key, AWS_CREDENTIALS.access_key_id]) expect(text).not.toContain(secret);
    // Newest first, ids unique.
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    expect([...events].sort((a, b) => (a.id < b.id ? 1 : -1)).map((event) => event.id)).toEqual(events.map((event) => event.id));
  });

  it('filters by type, by key (about it or done by it) and by instant; another account sees none of it', async () => {
    const user = await h.newAccount();
    const first = await h.createKey(user, ['full']);
    const second = await h.createKey(user, ['full']);
    await createCloud(h, user, 'by-user');
    const byKey = await h.inject({
      method: 'POST',
      url: '/clouds',
      headers: { authorization: `Bearer ${first.key}` },
      payload: { name: 'by-key', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS },
    });
    expect(byKey.statusCode).toBe(201);

    const clouds = await allEvents(h, user, '&type=cloud.created');
    expect(clouds.map((event) => event.data['name']).sort()).toEqual(['by-key', 'by-user']);
    const aboutFirst = await allEvents(h, user, `&api_key_id=${first.id}`);
    expect(aboutFirst.map((event) => event.type).sort()).toEqual(['api_key.created', 'cloud.created']);
    expect((await allEvents(h, user, `&api_key_id=${second.id}`)).map((event) => event.type)).toEqual(['api_key.created']);
    expect(await allEvents(h, user, `&type=cloud.created&api_key_id=${second.id}`)).toEqual([]);

    const all = await allEvents(h, user);
    const newest = all[0] as EventBody;
    expect((await allEvents(h, user, `&since=${encodeURIComponent(newest.created_at)}`)).map((event) => event.id)).toContain(newest.id);
    expect(await allEvents(h, user, `&since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).toEqual([]);

    const other = await h.newAccount();
    // Only its own set-up (the harness's plan change), nothing of the first account.
    expect((await allEvents(h, other)).map((event) => [event.type, event.subject.id])).toEqual([['billing.plan_changed', other.accountId]]);
    expect(await allEvents(h, other, `&api_key_id=${first.id}`)).toEqual([]);
  });

  it.each([
    ['type=cluster.exploded', 'type'],
    ['since=yesterday', 'since'],
    ['api_key_id=key%27%3B--', 'api_key_id'],
    ['limit=0', 'limit'],
    ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
    ['colour=blue', 'colour'],
  ])('?%s is a 400 naming %s', async (query, field) => {
    const user = await h.newAccount();
    const response = await h.inject({ method: 'GET', url: `/events?${query}`, headers: user.auth });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body).toContain(field);
  });

  it('no change without its event: when the event cannot be written, the change is not made either', async () => {
    const user = await h.newAccount();
    const key = await h.createKey(user, ['full']);
    const cloudId = await createCloud(h, user, 'kept');
    const before = await allEvents(h, user);
    fault.armed = true;
    try {
      const cloud = await h.inject({ method: 'POST', url: '/clouds', headers: user.auth, payload: { name: 'lost', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS } });
      expect(cloud.statusCode).toBe(503);
      expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: user.auth })).statusCode).toBe(503);
      expect((await h.inject({ method: 'DELETE', url: `/clouds/${cloudId}`, headers: user.auth })).statusCode).toBe(503);
      expect((await h.inject({ method: 'POST', url: '/clusters', headers: user.auth, payload: { name: 'lost', cloud_id: cloudId } })).statusCode).toBe(503);
    } finally {
      fault.armed = false;
    }
    const clouds = (await h.inject({ method: 'GET', url: '/clouds', headers: user.auth })).json() as { data: Array<{ name: string }> };
    expect(clouds.data.map((cloud) => cloud.name)).toEqual(['kept']);
    expect((await h.inject({ method: 'GET', url: '/clusters', headers: user.auth })).json()).toMatchObject({ data: [] });
    expect((await h.inject({ method: 'GET', url: '/me', headers: { authorization: `Bearer ${key.key}` } })).statusCode).toBe(200);
    expect(await allEvents(h, user)).toEqual(before);
  });

  it('no event without its change: refused changes record nothing', async () => {
    const user = await h.newAccount();
    const { cloudId } = await createCluster(h, user, { wait: true });
    const before = await allEvents(h, user);
    // A cloud with a cluster on it cannot go; a duplicate name cannot be made; a revoked key cannot be revoked twice over.
    expect((await h.inject({ method: 'DELETE', url: `/clouds/${cloudId}`, headers: user.auth })).statusCode).toBe(409);
    const dup = await h.inject({ method: 'POST', url: '/clouds', headers: user.auth, payload: { name: (before.find((e) => e.type === 'cloud.created')?.data['name'] as string), provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS } });
    expect(dup.statusCode).toBe(409);
    const key = await h.createKey(user, ['full']);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: user.auth })).statusCode).toBe(204);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: user.auth })).statusCode).toBe(204);
    const after = await allEvents(h, user);
    expect(after.slice(0, after.length - before.length).map((event) => event.type)).toEqual(['api_key.revoked', 'api_key.created']);
  });
});

describe(`api_key.expiring: 7 days and 1 day before a key expires, once (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ clock });
  });
  afterAll(async () => h?.close());

  const inDays = (days: number) => new Date(clock.now().getTime() + days * 24 * 3600 * 1000).toISOString();
  const notices = async (account: Account) =>
    (await allEvents(h, account, '&type=api_key.expiring')).map((event) => `${event.subject.id}:${event.data['notice'] as string}`).sort();

  it('raises each notice once, whichever instance or run finds it, and only the notices still ahead of a key', async () => {
    const user = await h.newAccount();
    const later = await h.createKey(user, ['full'], { expires_at: inDays(10) });
    const soon = await h.createKey(user, ['full'], { expires_at: inDays(0.5) });
    const revoked = await h.createKey(user, ['full'], { expires_at: inDays(0.5) });
    await h.inject({ method: 'DELETE', url: `/api-keys/${revoked.id}`, headers: user.auth });
    await h.createKey(user, ['full']);

    // Runs at once (as two instances would) raise each notice once.
    await Promise.all([h.app.expiryNotices.run(), h.app.expiryNotices.run()]);
    expect(await notices(user)).toEqual([`${soon.id}:1d`]);

    clock.advance(3.5 * 24 * 3600 * 1000); // `later` now expires in 6.5 days
    await h.app.expiryNotices.run();
    await h.app.expiryNotices.run();
    expect(await notices(user)).toEqual([`${later.id}:7d`, `${soon.id}:1d`].sort());

    clock.advance(6 * 24 * 3600 * 1000); // `later` expires in 12 hours; `soon` has expired
    await h.app.expiryNotices.run();
    expect(await notices(user)).toEqual([`${later.id}:1d`, `${later.id}:7d`, `${soon.id}:1d`].sort());
    const events = await allEvents(h, user, '&type=api_key.expiring');
    expect(events[0]).toMatchObject({ actor: { type: 'system', id: 'expiry_notices', client_ip: null }, data: { expires_at: expect.any(String) } });
  });
});
