// Well-formed API keys for the load generator, in the format of src/auth/api-key-format.ts (CONTRACT §4):
// `skd_` + 32 base62 characters + 6 base62 characters of the CRC32 of the random part. These keys only
// have to look real to the server, so Math.random is enough and keeps the load generator cheap; the
// keys that must authenticate are made by the server itself (POST /api-keys). main.mjs checks these
// against the server's own isWellFormedApiKey before any run, so a format change cannot go unnoticed.
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;

function randomPart() {
  let out = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) out += BASE62[Math.floor(Math.random() * 62)];
  return out;
}

function checksum(random) {
  let rest = crc32(random);
  let out = '';
  while (rest > 0) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(CHECKSUM_LENGTH, '0');
}

/** A key with a valid checksum that no one issued: the server has to hash it and look it up. */
export function unknownKey() {
  const random = randomPart();
  return `skd_${random}${checksum(random)}`;
}

/** A key of the right shape whose checksum is wrong: the server can refuse it before any hashing. */
export function badChecksumKey() {
  const random = randomPart();
  const good = checksum(random);
  // Change the last checksum character to a different base62 one, so the shape stays valid.
  const last = good[CHECKSUM_LENGTH - 1];
  const other = BASE62[(BASE62.indexOf(last) + 1 + Math.floor(Math.random() * 61)) % 62];
  return `skd_${random}${good.slice(0, -1)}${other}`;
}
