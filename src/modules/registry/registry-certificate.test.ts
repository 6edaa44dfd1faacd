import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { libtrustKeyId } from './libtrust.js';
import { selfSignedCertificate } from './registry-certificate.js';

function certificateFor(kid: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = publicKey.export({ format: 'jwk' });
  const pem = selfSignedCertificate({
    kid,
    publicJwk,
    privateJwk: privateKey.export({ format: 'jwk' }),
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2036-01-01T00:00:00Z'),
  });
  return { pem, publicJwk, publicKey };
}

describe('selfSignedCertificate', () => {
  it("is a valid self-signed certificate for the signing key, that Node's X.509 parser accepts", () => {
    const { pem, publicKey } = certificateFor('sk_test1');
    const cert = new X509Certificate(pem);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.equals(publicKey)).toBe(true);
    expect(cert.subject).toContain('CN=SkaleData token signing key sk_test1');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.ca).toBe(false);
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2036-01-01T00:00:00.000Z');
  });

  it('encodes every serial minimally: a kid whose digest starts with a zero byte still parses', () => {
    // A kid whose SHA-256 starts with 0x00 or 0x80 then a byte below 0x80: the serial's first byte was once
    // 0x00 there, an illegal padding OpenSSL refuses (about one kid in 256).
    let kid = '';
    for (let i = 0; kid === ''; i++) {
      const digest = createHash('sha256').update(`sk_probe${i}`).digest();
      if (((digest[0] ?? 1) & 0x7f) === 0 && (digest[1] ?? 0x80) < 0x80) kid = `sk_probe${i}`;
    }
    const cert = new X509Certificate(certificateFor(kid).pem);
    expect(cert.subject).toContain(kid);
    expect(cert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/);
  });

  it('names the same key the same way: the serial comes from the kid', () => {
    const a = new X509Certificate(certificateFor('sk_same').pem);
    const b = new X509Certificate(certificateFor('sk_same').pem);
    const c = new X509Certificate(certificateFor('sk_other').pem);
    expect(a.serialNumber).toBe(b.serialNumber);
    expect(a.serialNumber).not.toBe(c.serialNumber);
  });

  it('openssl reads it, and its public key has the libtrust id a registry will look tokens up by', () => {
    const { pem, publicJwk } = certificateFor('sk_openssl');
    const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem }).toString();
    expect(text).toContain('ecdsa-with-SHA256');
    expect(text).toContain('CA:FALSE');
    expect(text).toContain('Digital Signature');
    const spkiPem = execFileSync('openssl', ['x509', '-noout', '-pubkey'], { input: pem }).toString();
    expect(libtrustKeyId(createPublicKey(spkiPem).export({ format: 'jwk' }))).toBe(libtrustKeyId(publicJwk));
  });
});
