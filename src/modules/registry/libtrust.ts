import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  return bits > 0 ? out + BASE32[(buffer << (5 - bits)) & 31] : out;
}

/**
 * The key id Docker Distribution gives a public key (github.com/docker/libtrust, `keyIDFromCryptoKey`):
 * the SHA-256 of the key's DER SubjectPublicKeyInfo, its first 240 bits in base32, in twelve groups of
 * four joined by ':'. A registry configured with `auth.token.rootcertbundle` looks a token's `kid` up
 * by this id, so the tokens it must accept carry it.
 */
export function libtrustKeyId(publicJwk: JsonWebKey): string {
  const spki = createPublicKey({ key: publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  const encoded = base32(createHash('sha256').update(spki).digest().subarray(0, 30));
  return encoded.match(/.{4}/g)!.join(':');
}
