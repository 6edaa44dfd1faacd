import { describe, expect, it } from 'vitest';
import { libtrustKeyId } from './libtrust.js';

describe('libtrustKeyId', () => {
  it("matches the id Docker's image manifest v2 schema 1 spec prints beside its example key", () => {
    // The JWK and its kid as the spec (distribution/docs/spec/manifest-v2-1.md) shows them.
    const jwk = { crv: 'P-256', kty: 'EC', x: '3gAwX48IQ5oaYQAYSxor6rYYc_6yjuLCjtQ9LUakg4A', y: 't72ge6kIA1XOjqjVoEOiPPAURltJFBMGDSQvEGVB010' };
    expect(libtrustKeyId(jwk)).toBe('OD6I:6DRK:JXEJ:KBM4:255X:NSAA:MUSF:E4VM:ZI6W:CUN2:L4Z6:LSF4');
  });

  it('gives twelve groups of four base32 characters, different per key', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const ids = [1, 2].map(() => libtrustKeyId(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' })));
    for (const id of ids) expect(id).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });
});
