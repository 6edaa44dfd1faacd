import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BASE62 } from '../lib/ids.js';
import { API_KEY_LENGTH, API_KEY_PREFIX, digestApiKey, displayParts, generateApiKey, isWellFormedApiKey } from './api-key-format.js';

// CONTRACT §4: `skd_` + 32 random base62 characters + 6 base62 characters of a CRC32 of the random part.
const KEY_REGEX = /^skd_[0-9A-Za-z]{38}$/;
const RANDOM_START = API_KEY_PREFIX.length;
const RANDOM_END = RANDOM_START + 32;

const randomPart = (key: string): string => key.slice(RANDOM_START, RANDOM_END);

/** Pearson's χ² statistic of observed counts against a uniform expectation. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((sum, n) => sum + n, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
}

function countBase62(strings: Iterable<string>): number[] {
  const counts = new Array<number>(62).fill(0);
  for (const s of strings) {
    for (const ch of s) {
      const index = BASE62.indexOf(ch);
      if (index < 0) throw new Error(`not base62: ${ch}`);
      counts[index] = (counts[index] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * The χ² bound for 61 degrees of freedom. The 0.999 quantile is ~100.9 and the 0.999999 quantile ~125;
 * 150 is generous enough never to flake on a fair generator, while `byte % 62` (modulo bias: the first
 * 8 characters 25% likelier) over 640,000 characters scores in the thousands.
 */
const CHI_SQUARE_BOUND = 150;

describe('api key format', () => {
  it('generates keys of the documented shape that pass the offline check (1,000 keys)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const key = generateApiKey();
      expect(key).toMatch(KEY_REGEX);
      expect(key).toHaveLength(API_KEY_LENGTH);
      expect(isWellFormedApiKey(key)).toBe(true);
      seen.add(key);
    }
    expect(API_KEY_LENGTH).toBe(42);
    expect(seen.size).toBe(1000);
  });

  it('rejects every single-character substitution at every position (exhaustive over base62)', () => {
    // CRC32 detects every error burst of up to 32 bits, so any one changed character of the random
    // part is caught; a changed checksum character no longer equals the (deterministic) checksum.
    const alphabet = `${BASE62}_-+/.=~ `;
    let tried = 0;
    for (let k = 0; k < 5; k++) {
      const key = generateApiKey();
      for (let position = 0; position < key.length; position++) {
        for (const replacement of alphabet) {
          if (replacement === key[position]) continue;
          const mutated = key.slice(0, position) + replacement + key.slice(position + 1);
          if (isWellFormedApiKey(mutated)) throw new Error(`accepted substitution at ${position}: ${mutated}`);
          tried++;
        }
      }
    }
    // 5 keys × 42 positions × (70 − 1) replacements each.
    expect(tried).toBe(5 * 42 * (alphabet.length - 1));
  });

  it('rejects truncation, extension, deletion, insertion and adjacent transposition', () => {
    for (let k = 0; k < 20; k++) {
      const key = generateApiKey();
      for (let length = 0; length < key.length; length++) expect(isWellFormedApiKey(key.slice(0, length))).toBe(false);
      for (const extra of BASE62) {
        expect(isWellFormedApiKey(key + extra)).toBe(false);
        expect(isWellFormedApiKey(extra + key)).toBe(false);
      }
      for (let position = 0; position < key.length; position++) {
        expect(isWellFormedApiKey(key.slice(0, position) + key.slice(position + 1))).toBe(false);
        expect(isWellFormedApiKey(`${key.slice(0, position)}A${key.slice(position)}`)).toBe(false);
      }
      for (let position = RANDOM_START; position < key.length - 1; position++) {
        const a = key[position] as string;
        const b = key[position + 1] as string;
        if (a === b) continue;
        const swapped = key.slice(0, position) + b + a + key.slice(position + 2);
        expect(isWellFormedApiKey(swapped), `swap at ${position}`).toBe(false);
      }
    }
  });

  it('rejects near-misses a client could send: case changes, whitespace, the wrong prefix', () => {
    const key = generateApiKey();
    expect(isWellFormedApiKey(key.toUpperCase())).toBe(false);
    expect(isWellFormedApiKey(`SKD_${key.slice(4)}`)).toBe(false);
    expect(isWellFormedApiKey(`${key} `)).toBe(false);
    expect(isWellFormedApiKey(` ${key}`)).toBe(false);
    expect(isWellFormedApiKey(`${key}\n`)).toBe(false);
    expect(isWellFormedApiKey(`sk_${key.slice(4)}`)).toBe(false);
    expect(isWellFormedApiKey(`skd-${key.slice(4)}`)).toBe(false);
    expect(isWellFormedApiKey('')).toBe(false);
    expect(isWellFormedApiKey(`skd_${'0'.repeat(38)}`)).toBe(false);
    const swapped = key.slice(0, 4) + [...key.slice(4)].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
    if (swapped !== key) expect(isWellFormedApiKey(swapped)).toBe(false);
  });

  it('rejects a random part with a checksum that is not its own (well-formed strings are not keys)', () => {
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const a = generateApiKey();
      const b = generateApiKey();
      if (isWellFormedApiKey(a.slice(0, RANDOM_END) + b.slice(RANDOM_END))) accepted++;
    }
    expect(accepted).toBe(0);
  });

  it('displayParts shows the prefix and the last four characters only', () => {
    const key = generateApiKey();
    const parts = displayParts(key);
    expect(parts).toEqual({ prefix: key.slice(0, 8), lastFour: key.slice(-4) });
    expect(parts.prefix.startsWith('skd_')).toBe(true);
    expect(parts.prefix).toHaveLength(8);
    expect(parts.lastFour).toHaveLength(4);
    // What is shown reveals 4 of the 32 random characters; the last four come from the checksum.
    expect(key.slice(RANDOM_END)).toContain(parts.lastFour);
    expect(parts.prefix + parts.lastFour).not.toContain(randomPart(key));
  });

  it('digestApiKey is HMAC-SHA-256 under the pepper: deterministic per pepper, different across peppers', () => {
    const key = generateApiKey();
    const pepper = randomBytes(32);
    const other = randomBytes(32);
    const digest = digestApiKey(key, pepper);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digestApiKey(key, pepper)).toBe(digest);
    expect(digestApiKey(key, Buffer.from(pepper))).toBe(digest);
    expect(digestApiKey(key, other)).not.toBe(digest);
    expect(digest).toBe(createHmac('sha256', pepper).update(key).digest('hex'));
    // The pepper is applied: a leaked table cannot be matched against sha256(candidate key).
    expect(digest).not.toBe(createHash('sha256').update(key).digest('hex'));
    expect(digest).not.toContain(randomPart(key));
    // Different keys, different digests.
    expect(digestApiKey(generateApiKey(), pepper)).not.toBe(digest);
  });

  it('draws random characters uniformly over base62 (χ² over 20,000 keys), and the bound catches modulo bias', () => {
    const keys = Array.from({ length: 20_000 }, () => generateApiKey());
    const counts = countBase62(keys.map(randomPart));
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(20_000 * 32);
    const statistic = chiSquare(counts);
    expect(statistic).toBeLessThan(CHI_SQUARE_BOUND);

    // Every position on its own is uniform too (a fixed character at one position would hide in the total).
    for (let position = 0; position < 32; position++) {
      const column = countBase62(keys.map((key) => randomPart(key)[position] as string));
      // 322.6 expected per cell; a stuck position scores ~1.2 million, a fair one ~61 ± 11.
      expect(chiSquare(column), `position ${position}`).toBeLessThan(200);
    }

    // Teeth: the same bound rejects a generator with modulo bias (`byte % 62` without rejection).
    const biased: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      biased.push([...randomBytes(32)].map((byte) => BASE62[byte % 62]).join(''));
    }
    expect(chiSquare(countBase62(biased))).toBeGreaterThan(CHI_SQUARE_BOUND * 5);
  });
});
