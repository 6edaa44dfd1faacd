import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/auth/api-key-format.js';
import { loadConfig } from '../../src/config.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';

/**
 * Issue 13 item 5: GitHub secret scanning's partner endpoint. GitHub signs the raw body with ECDSA P-256
 * (its keys given in GITHUB_SECRET_SCANNING_KEYS, as GitHub publishes them); every key a match names is
 * revoked at once with `api_key.leaked`, and the answer is GitHub's feedback format. A request whose
 * signature does not hold revokes nothing.
 */

const KEY_ID = 'bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c';
const github = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
// Exactly the shape of https://api.github.com/meta/public_keys/secret_scanning.
const GITHUB_KEYS = JSON.stringify({
  public_keys: [
    { key_identifier: KEY_ID, key: github.publicKey.export({ type: 'spki', format: 'pem' }), is_current: true },
    { key_identifier: 'f'.repeat(64), key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }), is_current: false },
  ],
});

const TOKEN_TYPE = 'skaledata_api_key';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Alert {
  token: string;
  type: string;
  url: string;
  source: string;
}

const alert = (token: string, url = 'https://github.com/acme/app/blob/abc123/.env'): Alert => ({ token, type: TOKEN_TYPE, url, source: 'content' });

/** A request as GitHub sends it: `body` signed by `key` under `identifier` (the signed bytes may differ from those sent). */
function fromGithub(body: string, options: { key?: KeyObject; identifier?: string; sent?: string } = {}): InjectOptions {
  const signature = sign('sha256', Buffer.from(body), { key: options.key ?? github.privateKey, dsaEncoding: 'der' }).toString('base64');
  return {
    method: 'POST',
    url: '/secret-scanning/github',
    payload: options.sent ?? body,
    headers: { 'content-type': 'application/json', 'github-public-key-identifier': options.identifier ?? KEY_ID, 'github-public-key-signature': signature },
  };
}

interface Verdict {
  token_hash: string;
  token_type: string;
  label: string;
}

describe(`POST /secret-scanning/github (${TEST_DIALECT})`, () => {
  let h: Harness;
  let owner: Account;
  const logLines: string[] = [];

  beforeAll(async () => {
    h = await startHarness({ env: { GITHUB_SECRET_SCANNING_KEYS: GITHUB_KEYS }, logLines });
    owner = await h.newAccount();
  });
  afterAll(async () => h?.close());

  const status = async (key: string) => (await h.inject({ method: 'GET', url: '/me', headers: bearer(key) })).statusCode;

  async function leakedEvents(account: Account, keyId: string) {
    const response = await h.inject({ method: 'GET', url: `/events?type=api_key.leaked&api_key_id=${keyId}`, headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    return (response.json() as { data: Array<{ actor: { type: string; id: string }; subject: { id: string }; data: Record<string, unknown> }> }).data;
  }

  it('revokes a leaked key at once, records where it was found, and answers in GitHub\'s format', async () => {
    const { id, key } = await h.createKey(owner, ['clusters:read']);
    expect(await status(key)).toBe(200);
    const url = 'https://github.com/acme/app/blob/0123abc/config/.env';

    const response = await h.inject(fromGithub(JSON.stringify([alert(key, url)])));

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual([{ token_hash: sha256(key), token_type: TOKEN_TYPE, label: 'true_positive' }]);
    expect(response.body).not.toContain(key);
    expect(await status(key)).toBe(401);
    const shown = await h.inject({ method: 'GET', url: `/api-keys/${id}`, headers: owner.auth });
    expect(shown.json()).toMatchObject({ id, revoked_reason: 'leaked' });
    const events = await leakedEvents(owner, id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: { type: 'system', id: 'github_secret_scanning' }, subject: { id }, data: { url, source: 'content', token_type: TOKEN_TYPE } });
    expect(JSON.stringify(events)).not.toContain(key);
    // The secret never reaches a log line.
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(key);
  });

  it('handles a batch: keys of several accounts revoked, unknown and malformed tokens false positives, in order', async () => {
    const other = await h.newAccount();
    const mine = await h.createKey(owner);
    const theirs = await h.createKey(other);
    const untouched = await h.createKey(owner);
    const unknown = generateApiKey();
    const badChecksum = `${mine.key.slice(0, -1)}${mine.key.endsWith('A') ? 'B' : 'A'}`;
    const tokens = [mine.key, 'skd_not-a-key', unknown, theirs.key, badChecksum];

    const response = await h.inject(fromGithub(JSON.stringify(tokens.map((token) => alert(token)))));

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual(
      tokens.map((token, index) => ({ token_hash: sha256(token), token_type: TOKEN_TYPE, label: index === 0 || index === 3 ? 'true_positive' : 'false_positive' })),
    );
    expect(await status(mine.key)).toBe(401);
    expect(await status(theirs.key)).toBe(401);
    expect(await status(untouched.key)).toBe(200);
    expect(await leakedEvents(other, theirs.id)).toHaveLength(1);
  });

  it('a key revoked before still learns it leaked; its first revocation is kept', async () => {
    const { id, key } = await h.createKey(owner);
    expect((await h.inject({ method: 'DELETE', url: `/api-keys/${id}`, headers: owner.auth })).statusCode).toBe(204);

    const response = await h.inject(fromGithub(JSON.stringify([alert(key)])));

    expect(response.statusCode, response.body).toBe(200);
    expect((response.json() as Verdict[])[0]?.label).toBe('true_positive');
    expect((await h.inject({ method: 'GET', url: `/api-keys/${id}`, headers: owner.auth })).json()).toMatchObject({ revoked_reason: 'revoked' });
    const events = await leakedEvents(owner, id);
    expect(events).toHaveLength(1);
    expect(events[0]?.data).toMatchObject({ already_revoked: true, url: alert(key).url });
  });

  it('a secret the key was rolled away from revokes the key too', async () => {
    const { id, key: oldSecret } = await h.createKey(owner);
    const rolled = await h.inject({ method: 'POST', url: `/api-keys/${id}/roll`, headers: owner.auth, payload: { expires_in_seconds: 3600 } });
    expect(rolled.statusCode, rolled.body).toBe(200);
    const newSecret = (rolled.json() as { key: string }).key;
    expect(await status(newSecret)).toBe(200);

    const response = await h.inject(fromGithub(JSON.stringify([alert(oldSecret)])));

    expect((response.json() as Verdict[])[0]?.label).toBe('true_positive');
    expect(await status(newSecret)).toBe(401);
    expect(await status(oldSecret)).toBe(401);
  });

  describe('refuses requests GitHub did not sign (401, nothing revoked)', () => {
    const cases: Array<[string, (body: string) => InjectOptions]> = [
      ['an unknown key identifier', (body) => fromGithub(body, { identifier: 'a'.repeat(64) })],
      ["a signature by another key under GitHub's identifier", (body) => fromGithub(body, { key: stranger.privateKey })],
      ['a signature by the other listed identifier\'s name but GitHub\'s key', (body) => fromGithub(body, { identifier: 'f'.repeat(64) })],
      ['a tampered body', (body) => fromGithub(body, { sent: body.replace('content', 'commit') })],
      ['no signature headers', (body) => ({ method: 'POST', url: '/secret-scanning/github', payload: body, headers: { 'content-type': 'application/json' } })],
      ['a signature that is not base64 DER', (body) => ({ ...fromGithub(body), headers: { 'content-type': 'application/json', 'github-public-key-identifier': KEY_ID, 'github-public-key-signature': 'not a signature!' } })],
      ['an empty signature', (body) => ({ ...fromGithub(body), headers: { 'content-type': 'application/json', 'github-public-key-identifier': KEY_ID, 'github-public-key-signature': '' } })],
    ];
    it.each(cases)('%s', async (_name, build) => {
      const { id, key } = await h.createKey(owner);
      const response = await h.inject(build(JSON.stringify([alert(key)])));

      expect(response.statusCode, response.body).toBe(401);
      expect(response.headers['content-type']).toContain('application/problem+json');
      expect(response.json()).toMatchObject({ code: 'unauthenticated' });
      expect(await status(key)).toBe(200);
      expect(await leakedEvents(owner, id)).toHaveLength(0);
    });
  });

  it('refuses an oversized batch with 413 and revokes nothing', async () => {
    const { id, key } = await h.createKey(owner);
    const tooMany = [alert(key), ...Array.from({ length: 1000 }, () => alert(generateApiKey()))];
    const response = await h.inject(fromGithub(JSON.stringify(tooMany)));
    expect(response.statusCode, response.body).toBe(413);
    expect(response.json()).toMatchObject({ code: 'payload_too_large' });

    const tooLarge = JSON.stringify([alert(key, `https://github.com/acme/app/${'x'.repeat(1024 * 1024)}`)]);
    const large = await h.inject(fromGithub(tooLarge));
    expect(large.statusCode, large.body).toBe(413);

    expect(await status(key)).toBe(200);
    expect(await leakedEvents(owner, id)).toHaveLength(0);
  });

  it('refuses a signed body that is not a batch of matches with 400 naming the field', async () => {
    const { key } = await h.createKey(owner);
    const missingUrl = await h.inject(fromGithub(JSON.stringify([{ token: key, type: TOKEN_TYPE, source: 'content' }])));
    expect(missingUrl.statusCode, missingUrl.body).toBe(400);
    expect(missingUrl.json()).toMatchObject({ code: 'validation_failed', errors: [{ path: '0.url' }] });
    const notJson = await h.inject(fromGithub('[{"token":'));
    expect(notJson.statusCode, notJson.body).toBe(400);
    const empty = await h.inject({ method: 'POST', url: '/secret-scanning/github' });
    expect(empty.statusCode, empty.body).toBe(400);
    expect(empty.json()).toMatchObject({ code: 'validation_failed', errors: [{ path: 'body' }] });
    expect(await status(key)).toBe(200);
  });
});

describe(`POST /secret-scanning/github without GITHUB_SECRET_SCANNING_KEYS (${TEST_DIALECT})`, () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('answers 404 and revokes nothing, even to a validly signed request', async () => {
    const owner = await h.newAccount();
    const { key } = await h.createKey(owner);
    const response = await h.inject(fromGithub(JSON.stringify([alert(key)])));
    expect(response.statusCode, response.body).toBe(404);
    expect(response.json()).toMatchObject({ code: 'not_found' });
    expect((await h.inject({ method: 'GET', url: '/me', headers: bearer(key) })).statusCode).toBe(200);
  });
});

describe('GITHUB_SECRET_SCANNING_KEYS is checked at boot', () => {
  it.each([
    ['not JSON', 'nope', /not JSON/],
    ['no key list', '{"keys":[]}', /public_keys/],
    ['a key that is not PEM', JSON.stringify({ public_keys: [{ key_identifier: 'a', key: 'xyz', is_current: true }] }), /public_keys\[0\]\.key must be a PEM/],
    ['an RSA key', JSON.stringify({ public_keys: [{ key_identifier: 'a', key: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }) }] }), /ECDSA P-256/],
    ['no identifier', JSON.stringify({ public_keys: [{ key: github.publicKey.export({ type: 'spki', format: 'pem' }) }] }), /key_identifier/],
  ])('%s', (_name, value, message) => {
    expect(() => loadConfig({ GITHUB_SECRET_SCANNING_KEYS: value })).toThrow(message);
    expect(() => loadConfig({ GITHUB_SECRET_SCANNING_KEYS: value })).toThrow(/GITHUB_SECRET_SCANNING_KEYS/);
  });

  it('accepts the JSON GitHub publishes', () => {
    expect(loadConfig({ GITHUB_SECRET_SCANNING_KEYS: GITHUB_KEYS }).inbound.githubScanningKeys?.map((key) => key.identifier)).toEqual([KEY_ID, 'f'.repeat(64)]);
  });
});
