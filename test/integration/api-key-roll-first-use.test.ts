import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { MovableClock } from '../helpers/movable-clock.js';

/**
 * Rotation without downtime (CONTRACT §7, issue 13 item 4): `POST /api-keys/{id}/roll {"retire_old":
 * "on_first_use"}` keeps the old secret working until the new one is first used, or until the grace
 * (`expires_in_seconds`, default 7 days) ends, whichever comes first; the retire is recorded as
 * `api_key.old_secret_retired`. (Across instances: test/process/roll-on-first-use.test.ts.)
 */

interface EventBody {
  type: string;
  actor: { type: string; id: string | null };
  subject: { type: string; id: string };
  data: Record<string, unknown>;
  created_at: string;
}

const DAY_MS = 24 * 3600 * 1000;

function expectInvalidToken(response: LightMyRequestResponse): void {
  expect(response.statusCode, response.body).toBe(401);
  expect(response.json()).toMatchObject({ code: 'invalid_token' });
  expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata", error="invalid_token"');
}

describe(`roll with retire_old on_first_use (${TEST_DIALECT})`, () => {
  const clock = new MovableClock();
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ clock });
  });
  afterAll(async () => h?.close());

  const me = (key: string) => h.inject({ method: 'GET', url: '/me', headers: bearer(key) });
  const roll = (account: Account, id: string, payload?: Record<string, unknown>) =>
    h.inject({ method: 'POST', url: `/api-keys/${id}/roll`, headers: account.auth, ...(payload === undefined ? {} : { payload }) });
  async function rolled(account: Account, id: string, payload: Record<string, unknown>): Promise<string> {
    const response = await roll(account, id, payload);
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as { key: string }).key;
  }
  async function events(account: Account, keyId: string): Promise<EventBody[]> {
    const response = await h.inject({ method: 'GET', url: `/events?api_key_id=${keyId}&limit=200`, headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as { data: EventBody[] }).data;
  }
  const ofType = (list: EventBody[], type: string) => list.filter((event) => event.type === type);

  it('the old secret works until the new one is first used, then 401 invalid_token; the new one keeps working', async () => {
    const user = await h.newAccount();
    const { id, key: oldKey } = await h.createKey(user, ['clusters:read']);
    const before = clock.now().getTime();
    const newKey = await rolled(user, id, { retire_old: 'on_first_use' });

    // Warm in the cache, and still good days later while the new secret is unused.
    for (let i = 0; i < 3; i++) expect((await me(oldKey)).statusCode).toBe(200);
    clock.advance(3 * DAY_MS);
    expect((await me(oldKey)).statusCode).toBe(200);

    const first = await me(newKey);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ api_key: { id } });
    expectInvalidToken(await me(oldKey));
    expect((await me(newKey)).statusCode).toBe(200);
    expectInvalidToken(await me(oldKey));

    const trail = await events(user, id);
    const rolls = ofType(trail, 'api_key.rolled');
    expect(rolls).toHaveLength(1);
    expect(rolls[0]!.data.retire_old).toBe('on_first_use');
    // No expires_in_seconds: the grace defaults to 7 days.
    const worksUntil = new Date(String(rolls[0]!.data.old_secret_works_until)).getTime();
    expect(worksUntil - before).toBeGreaterThanOrEqual(7 * DAY_MS);
    expect(worksUntil - before).toBeLessThan(7 * DAY_MS + 60_000);
    const retired = ofType(trail, 'api_key.old_secret_retired');
    expect(retired).toHaveLength(1);
    expect(retired[0]).toMatchObject({ actor: { type: 'api_key', id }, subject: { type: 'api_key', id }, data: { reason: 'new_secret_used' } });
  });

  it('concurrent first uses retire the old secret once', async () => {
    const user = await h.newAccount();
    const { id, key: oldKey } = await h.createKey(user, ['clusters:read']);
    const newKey = await rolled(user, id, { retire_old: 'on_first_use', expires_in_seconds: 3600 });
    const answers = await Promise.all(Array.from({ length: 8 }, () => me(newKey)));
    expect(answers.map((answer) => answer.statusCode)).toEqual(Array(8).fill(200));
    expectInvalidToken(await me(oldKey));
    expect(ofType(await events(user, id), 'api_key.old_secret_retired')).toHaveLength(1);
  });

  it('the end of the grace retires the old secret too, when the new one was never used (no retire event)', async () => {
    const user = await h.newAccount();
    const { id, key: oldKey } = await h.createKey(user, ['clusters:read']);
    const newKey = await rolled(user, id, { retire_old: 'on_first_use', expires_in_seconds: 120 });
    expect((await me(oldKey)).statusCode).toBe(200);
    clock.advance(119_000);
    expect((await me(oldKey)).statusCode).toBe(200);
    clock.advance(2_000);
    expectInvalidToken(await me(oldKey));
    expect((await me(newKey)).statusCode).toBe(200);
    expectInvalidToken(await me(oldKey));
    expect(ofType(await events(user, id), 'api_key.old_secret_retired')).toEqual([]);
  });

  it('a plain roll with a grace is unchanged: using the new secret does not retire the old one', async () => {
    const user = await h.newAccount();
    const { id, key: oldKey } = await h.createKey(user, ['clusters:read']);
    const newKey = await rolled(user, id, { expires_in_seconds: 600 });
    expect((await me(newKey)).statusCode).toBe(200);
    expect((await me(oldKey)).statusCode).toBe(200);
    const trail = await events(user, id);
    expect(ofType(trail, 'api_key.rolled')[0]!.data.retire_old).toBeNull();
    expect(ofType(trail, 'api_key.old_secret_retired')).toEqual([]);
  });

  it('revoking during the grace refuses both secrets; a later use of the new one retires nothing', async () => {
    const user = await h.newAccount();
    const { id, key: oldKey } = await h.createKey(user, ['clusters:read']);
    const newKey = await rolled(user, id, { retire_old: 'on_first_use' });
    expect((await me(oldKey)).statusCode).toBe(200);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: user.auth })).statusCode).toBe(204);
    expectInvalidToken(await me(oldKey));
    expectInvalidToken(await me(newKey));
    expect(ofType(await events(user, id), 'api_key.old_secret_retired')).toEqual([]);
  });

  it('rolling again before the new secret is used: the first secret is dropped, the second lives until the third is used', async () => {
    const user = await h.newAccount();
    const { id, key: first } = await h.createKey(user, ['clusters:read']);
    const second = await rolled(user, id, { retire_old: 'on_first_use' });
    expect((await me(first)).statusCode).toBe(200);
    const third = await rolled(user, id, { retire_old: 'on_first_use' });
    expectInvalidToken(await me(first));
    expect((await me(second)).statusCode).toBe(200);
    expect((await me(second)).statusCode).toBe(200);
    expect((await me(third)).statusCode).toBe(200);
    expectInvalidToken(await me(second));
    expect((await me(third)).statusCode).toBe(200);
    expect(ofType(await events(user, id), 'api_key.old_secret_retired')).toHaveLength(1);

    // A plain roll after an on_first_use one: its old secret keeps working whatever is used.
    const fourth = await rolled(user, id, { expires_in_seconds: 600 });
    expect((await me(fourth)).statusCode).toBe(200);
    expect((await me(third)).statusCode).toBe(200);
  });

  it('a use of the new secret that is then refused (scope) still counts as its first use', async () => {
    const user = await h.newAccount();
    const { id, key: oldKey } = await h.createKey(user, ['clusters:read']);
    const newKey = await rolled(user, id, { retire_old: 'on_first_use' });
    const refused = await h.inject({ method: 'GET', url: '/apps', headers: bearer(newKey) });
    expect(refused.statusCode).toBe(403);
    expectInvalidToken(await me(oldKey));
  });

  it('bad input: on_first_use with no grace, or another value → 400 naming the field; nothing is rolled', async () => {
    const user = await h.newAccount();
    const { id, key } = await h.createKey(user, ['clusters:read']);
    for (const payload of [{ retire_old: 'on_first_use', expires_in_seconds: 0 }, { retire_old: 'later' }, { retire_old: true }, { retire_old: null }]) {
      const response = await roll(user, id, payload);
      expect(response.statusCode, response.body).toBe(400);
      const body = response.json() as { code: string; errors: Array<{ path: string }> };
      expect(body.code).toBe('validation_failed');
      expect(body.errors.map((error) => error.path).join(' ')).toContain('retire_old');
    }
    expect((await me(key)).statusCode).toBe(200);
    expect(ofType(await events(user, id), 'api_key.rolled')).toEqual([]);
  });
});
