import { createHmac, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { randomBase62, toBase62 } from '../lib/ids.js';

/**
 * API key format (CONTRACT §4): `skd_` + 32 random base62 characters + 6 base62 characters of the
 * CRC32 of the random part. The checksum lets us (and secret scanners) reject a mistyped or made-up
 * key offline, before any hashing or lookup.
 */
export const API_KEY_PREFIX = 'skd_';
const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + RANDOM_LENGTH + CHECKSUM_LENGTH;
const KEY_PATTERN = /^skd_[0-9A-Za-z]{38}$/;

function checksum(randomPart: string): string {
  return toBase62(crc32(randomPart), CHECKSUM_LENGTH);
}

export function generateApiKey(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return `${API_KEY_PREFIX}${random}${checksum(random)}`;
}

/** True when the string has the key shape and its checksum matches. No I/O. */
export function isWellFormedApiKey(candidate: string): boolean {
  if (candidate.length !== API_KEY_LENGTH || !KEY_PATTERN.test(candidate)) return false;
  const random = candidate.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + RANDOM_LENGTH);
  return checksum(random) === candidate.slice(API_KEY_PREFIX.length + RANDOM_LENGTH);
}

/**
 * The only form a key is stored in: HMAC-SHA-256 under a server pepper kept outside the database, so
 * a leaked table can neither authenticate nor confirm a guessed key. Keys are looked up by this
 * digest (an indexed equality), so no attacker-steered string comparison happens.
 */
export function digestApiKey(key: string, pepper: Buffer | KeyObject): string {
  return createHmac('sha256', pepper).update(key).digest('hex');
}

/** What may be shown again after creation: the first characters and the last four. */
export function displayParts(key: string): { prefix: string; lastFour: string } {
  return { prefix: key.slice(0, API_KEY_PREFIX.length + 4), lastFour: key.slice(-4) };
}
