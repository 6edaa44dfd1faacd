import { randomBytes } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { Webhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';

/**
 * Issue 13 item 6: owners who leave. Clerk (through Svix) tells us a member left an organisation, or a
 * user or organisation was deleted; the keys they leave behind are revoked (reason `owner_removed`).
 * Deliveries are signed with a test `whsec_` secret by the svix library itself; unsigned, badly signed,
 * stale and replayed deliveries revoke nothing.
 */

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const signer = new Webhook(SECRET);

const newId = () => `msg_${randomBytes(12).toString('hex')}`;
const newOrg = () => `org_${randomBytes(8).toString('hex')}`;

/** A delivery as Svix sends it: `event` signed with `secret` at `at` under `id` (the bytes sent may differ). */
function fromClerk(event: object, options: { id?: string; at?: Date; secret?: Webhook; sent?: string } = {}): InjectOptions {
  const id = options.id ?? newId();
  const at = options.at ?? new Date();
  const body = JSON.stringify(event);
  return {
    method: 'POST',
    url: '/webhooks/clerk',
    payload: options.sent ?? body,
    headers: {
      'content-type': 'application/json',
      'svix-id': id,
      'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
      'svix-signature': (options.secret ?? signer).sign(id, at, body),
    },
  };
}

// Shaped like Clerk's payloads (only the fields we read matter; the rest is there to be ignored).
const membershipDeleted = (orgId: string, userId: string) => ({
  object: 'event',
  type: 'organizationMembership.deleted',
  data: { object: 'organization_membership', id: `orgmem_${randomBytes(6).toString('hex')}`, role: 'org:member', organization: { id: orgId, name: 'Acme' }, public_user_data: { user_id: userId, identifier: 'a@example.com' } },
});
const userDeleted = (userId: string) => ({ object: 'event', type: 'user.deleted', data: { object: 'user', id: userId, deleted: true } });
const organizationDeleted = (orgId: string) => ({ object: 'event', type: 'organization.deleted', data: { object: 'organization', id: orgId, deleted: true } });

describe(`POST /webhooks/clerk (${TEST_DIALECT})`, () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ env: { CLERK_WEBHOOK_SECRET: SECRET } });
  });
  afterAll(async () => h?.close());

  const status = async (key: string) => (await h.inject({ method: 'GET', url: '/me', headers: bearer(key) })).statusCode;

  /** Two members of one organisation, each with a personal account, each with keys in both. */
  async function team() {
    const orgId = newOrg();
    const alice = await h.newAccount({ orgId });
    const bob = await h.newAccount({ orgId });
    const alicePersonal = { ...alice, accountId: alice.userId, orgId: null, auth: bearer(await h.clerk.session({ sub: alice.userId, email: alice.email }, { expiresInSeconds: 3600 })) };
    const keys = {
      aliceOrg: [await h.createKey(alice), await h.createKey(alice, ['apps:read'])],
      bobOrg: await h.createKey(bob),
      alicePersonal: await h.createKey(alicePersonal),
    };
    return { orgId, alice, bob, alicePersonal, keys };
  }

  async function ownerRemovedEvents(account: Account) {
    const response = await h.inject({ method: 'GET', url: '/events?type=api_key.owner_removed', headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as { data: Array<{ actor: { type: string; id: string }; subject: { id: string }; data: Record<string, unknown> }> }).data;
  }

  it('a member who leaves an organisation loses the keys they made there, and only those', async () => {
    const { orgId, alice, bob, keys } = await team();

    const response = await h.inject(fromClerk(membershipDeleted(orgId, alice.userId)));

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ handled: true, revoked_keys: 2 });
    for (const key of keys.aliceOrg) expect(await status(key.key)).toBe(401);
    expect(await status(keys.bobOrg.key)).toBe(200);
    expect(await status(keys.alicePersonal.key)).toBe(200);
    const events = await ownerRemovedEvents(bob);
    expect(events.map((event) => event.subject.id).sort()).toEqual(keys.aliceOrg.map((key) => key.id).sort());
    expect(events[0]).toMatchObject({ actor: { type: 'system', id: 'clerk' }, data: { reason: 'owner_removed', clerk_event: 'organizationMembership.deleted', user_id: alice.userId, organization_id: orgId } });
    const shown = await h.inject({ method: 'GET', url: `/api-keys/${keys.aliceOrg[0]!.id}`, headers: bob.auth });
    expect(shown.json()).toMatchObject({ revoked_reason: 'owner_removed' });
  });

  it('a deleted user loses their keys in every account', async () => {
    const { alice, bob, alicePersonal, keys } = await team();

    const response = await h.inject(fromClerk(userDeleted(alice.userId)));

    expect(response.json()).toEqual({ handled: true, revoked_keys: 3 });
    for (const key of [...keys.aliceOrg, keys.alicePersonal]) expect(await status(key.key)).toBe(401);
    expect(await status(keys.bobOrg.key)).toBe(200);
    expect(await ownerRemovedEvents(alicePersonal)).toHaveLength(1);
    expect(await ownerRemovedEvents(bob)).toHaveLength(2);
  });

  it('a deleted organisation loses all its keys; its members keep their own', async () => {
    const { orgId, keys } = await team();

    const response = await h.inject(fromClerk(organizationDeleted(orgId)));

    expect(response.json()).toEqual({ handled: true, revoked_keys: 3 });
    for (const key of [...keys.aliceOrg, keys.bobOrg]) expect(await status(key.key)).toBe(401);
    expect(await status(keys.alicePersonal.key)).toBe(200);
  });

  it('acknowledges other event types and changes nothing', async () => {
    const { alice, keys } = await team();
    const response = await h.inject(fromClerk({ object: 'event', type: 'user.updated', data: { id: alice.userId } }));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ handled: false, revoked_keys: 0 });
    expect(await status(keys.aliceOrg[0]!.key)).toBe(200);
  });

  it('refuses a replayed delivery (same svix-id), even with keys to revoke again', async () => {
    const { orgId, alice, keys } = await team();
    const id = newId();
    const at = new Date();
    expect((await h.inject(fromClerk(membershipDeleted(orgId, alice.userId), { id, at }))).statusCode).toBe(200);
    // Alice comes back and makes a new key; a replay of the old delivery must not take it.
    const again = await h.createKey(alice);

    const replay = await h.inject(fromClerk(membershipDeleted(orgId, alice.userId), { id, at }));

    expect(replay.statusCode, replay.body).toBe(401);
    expect(replay.json()).toMatchObject({ code: 'unauthenticated' });
    expect(replay.json<{ detail: string }>().detail).toMatch(/replay/);
    expect(await status(again.key)).toBe(200);
    expect(keys.aliceOrg).toHaveLength(2);
  });

  describe('refuses deliveries Clerk did not sign now (401, nothing revoked)', () => {
    const wrong = new Webhook(`whsec_${randomBytes(24).toString('base64')}`);
    const cases: Array<[string, (orgId: string, userId: string) => InjectOptions]> = [
      ['stale: signed more than 5 minutes ago', (orgId, userId) => fromClerk(membershipDeleted(orgId, userId), { at: new Date(Date.now() - 6 * 60_000) })],
      ['from the future: more than 5 minutes ahead', (orgId, userId) => fromClerk(membershipDeleted(orgId, userId), { at: new Date(Date.now() + 6 * 60_000) })],
      ['signed with another secret', (orgId, userId) => fromClerk(membershipDeleted(orgId, userId), { secret: wrong })],
      [
        'a tampered body (another user put in)',
        (orgId, userId) => {
          const signed = membershipDeleted(orgId, 'user_someoneelse');
          return fromClerk(signed, { sent: JSON.stringify(signed).replace('user_someoneelse', userId) });
        },
      ],
      ...(['svix-id', 'svix-timestamp', 'svix-signature'] as const).map((header): [string, (orgId: string, userId: string) => InjectOptions] => [
        `without ${header}`,
        (orgId, userId) => {
          const request = fromClerk(membershipDeleted(orgId, userId));
          const headers = { ...(request.headers as Record<string, string>) };
          delete headers[header];
          return { ...request, headers };
        },
      ]),
      [
        'a signature header with garbage',
        (orgId, userId) => {
          const request = fromClerk(membershipDeleted(orgId, userId));
          return { ...request, headers: { ...(request.headers as Record<string, string>), 'svix-signature': 'v1,not-base64!!' } };
        },
      ],
    ];
    it.each(cases)('%s', async (_name, build) => {
      const { orgId, alice, bob, keys } = await team();
      const response = await h.inject(build(orgId, alice.userId));
      expect(response.statusCode, response.body).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
      for (const key of keys.aliceOrg) expect(await status(key.key)).toBe(200);
      expect(await ownerRemovedEvents(bob)).toHaveLength(0);
    });
  });

  it('refuses a signed event of a handled type without the ids it needs (400), and lets the fixed delivery through', async () => {
    const { orgId, alice, keys } = await team();
    const id = newId();
    const broken = { object: 'event', type: 'organizationMembership.deleted', data: { organization: { id: orgId } } };
    const refused = await h.inject(fromClerk(broken, { id }));
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'validation_failed', errors: [{ path: 'public_user_data' }] });
    expect(await status(keys.aliceOrg[0]!.key)).toBe(200);
    const empty = await h.inject({ method: 'POST', url: '/webhooks/clerk', headers: { 'svix-id': newId() } });
    expect(empty.statusCode, empty.body).toBe(400);
    expect(empty.json()).toMatchObject({ errors: [{ path: 'body' }] });
    // The refused delivery did not use up its id.
    expect((await h.inject(fromClerk(membershipDeleted(orgId, alice.userId), { id }))).statusCode).toBe(200);
  });
});

describe(`POST /webhooks/clerk without CLERK_WEBHOOK_SECRET (${TEST_DIALECT})`, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('answers 404 and revokes nothing, even to a validly signed delivery', async () => {
    const owner = await h.newAccount();
    const { key } = await h.createKey(owner);
    const response = await h.inject(fromClerk(userDeleted(owner.userId)));
    expect(response.statusCode, response.body).toBe(404);
    expect((await h.inject({ method: 'GET', url: '/me', headers: bearer(key) })).statusCode).toBe(200);
  });
});

describe('CLERK_WEBHOOK_SECRET is checked at boot', () => {
  it.each(['secret', 'whsec_', 'whsec_not base64', `whsec_${randomBytes(8).toString('base64')}`])('refuses %j', (value) => {
    expect(() => loadConfig({ CLERK_WEBHOOK_SECRET: value })).toThrow(/CLERK_WEBHOOK_SECRET/);
  });
  it('accepts a Svix secret', () => {
    expect(loadConfig({ CLERK_WEBHOOK_SECRET: SECRET }).inbound.clerkWebhookSecret).toBe(SECRET);
  });
});
