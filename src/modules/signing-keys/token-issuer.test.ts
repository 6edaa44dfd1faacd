import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../lib/clock.js';
import type { SigningKeyStore } from './signing-key-store.js';
import { createTokenIssuer, TokenVerificationError } from './token-issuer.js';

const ISSUER = 'https://api.skaledata.test';

async function fixture(nowMs = Date.UTC(2026, 0, 1, 12)) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const keys: SigningKeyStore = {
    activeKey: async () => ({ kid: 'sk_test', libtrustKid: 'AAAA:BBBB', privateKey }),
    publicKey: async (kid) => (kid === 'sk_test' || kid === 'AAAA:BBBB' ? publicKey : null),
    publishedKeys: async () => [],
    publishedCertificates: async () => [],
  };
  const time = { ms: nowMs };
  const clock: Clock = { now: () => new Date(time.ms) };
  return { issuer: createTokenIssuer({ keys, clock, issuer: ISSUER }), time, privateKey, publicJwk: await exportJWK(publicKey) };
}

describe('TokenIssuer', () => {
  it('sets iss, sub, aud, iat, nbf, exp and jti itself; callers cannot override them', async () => {
    const { issuer } = await fixture();
    const issued = await issuer.sign(
      { iss: 'https://evil.example', aud: 'everything', exp: 9_999_999_999, sub: 'root', role: 'dev' },
      { audience: 'skaledata:app:app_1', subject: 'user_1', ttlSeconds: 120, jti: 'dcr_1' },
    );
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: 'ES256', kid: 'sk_test', typ: 'JWT' });
    const iat = Date.UTC(2026, 0, 1, 12) / 1000;
    expect(decodeJwt(issued.token)).toEqual({ iss: ISSUER, sub: 'user_1', aud: 'skaledata:app:app_1', iat, nbf: iat, exp: iat + 120, jti: 'dcr_1', role: 'dev' });
    expect(issued.expiresAt.toISOString()).toBe('2026-01-01T12:02:00.000Z');
  });

  it("names the key by its libtrust id when asked (registry tokens), and verifies those tokens too", async () => {
    const { issuer } = await fixture();
    const issued = await issuer.sign({}, { audience: 'registry', subject: 'key_1', ttlSeconds: 60, keyName: 'libtrust' });
    expect(decodeProtectedHeader(issued.token).kid).toBe('AAAA:BBBB');
    expect(issued.kid).toBe('AAAA:BBBB');
    expect((await issuer.verify(issued.token, { audience: 'registry' })).sub).toBe('key_1');
  });

  it('refuses lifetimes beyond 15 minutes (they would outlive a rotated key)', async () => {
    const { issuer } = await fixture();
    for (const ttlSeconds of [0, 901, 1.5, 3600]) {
      await expect(issuer.sign({}, { audience: 'a', subject: 's', ttlSeconds })).rejects.toThrow(/token lifetime/);
    }
  });

  it('verifies its own tokens and refuses other audiences, expired, unknown-kid and unsigned ones', async () => {
    const { issuer, time, privateKey } = await fixture();
    const { token } = await issuer.sign({}, { audience: 'registry', subject: 'key_1', ttlSeconds: 60 });
    expect((await issuer.verify(token, { audience: 'registry' })).sub).toBe('key_1');
    await expect(issuer.verify(token, { audience: 'other' })).rejects.toBeInstanceOf(TokenVerificationError);

    const stranger = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'sk_other' }).setIssuer(ISSUER).setAudience('registry').sign(privateKey);
    await expect(issuer.verify(stranger, { audience: 'registry' })).rejects.toThrow('unknown or retired kid');
    const [, payload] = token.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'sk_test' })).toString('base64url')}.${payload}.`;
    await expect(issuer.verify(none, { audience: 'registry' })).rejects.toBeInstanceOf(TokenVerificationError);
    await expect(issuer.verify('not a token', { audience: 'registry' })).rejects.toThrow('malformed token');

    time.ms += 66_000;
    await expect(issuer.verify(token, { audience: 'registry' })).rejects.toBeInstanceOf(TokenVerificationError);
  });
});
