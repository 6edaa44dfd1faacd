import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { generateApiKey, isWellFormedApiKey } from '../../auth/api-key-format.js';
import { API_KEY_SCAN_REGEX } from './key-pattern.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The checksum rule as the README states it, written out again here (not imported). */
function checksumHolds(candidate: string): boolean {
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let rest = crc32(candidate.slice(4, 36));
  let written = '';
  while (rest > 0) {
    written = digits[rest % 62] + written;
    rest = Math.floor(rest / 62);
  }
  return written.padStart(6, '0') === candidate.slice(36);
}

/** What a scanner configured from the README finds in `text`: regex matches whose checksum holds. */
const scan = (text: string) => [...text.matchAll(new RegExp(API_KEY_SCAN_REGEX, 'g'))].map((match) => match[0]).filter(checksumHolds);

describe('the key pattern for secret scanners', () => {
  it('is quoted by the README as it is: in the text, the gitleaks rule and the trufflehog detector', () => {
    expect(README).toContain(`\`\`\`text\n${API_KEY_SCAN_REGEX}\n\`\`\``);
    expect(README).toContain(`regex = '''${API_KEY_SCAN_REGEX}'''`);
    expect(README).toContain(`key: '${API_KEY_SCAN_REGEX}'`);
  });

  it('finds real keys wherever they sit in text, and their checksum holds', () => {
    const keys = Array.from({ length: 50 }, () => generateApiKey());
    const text = [
      `export SKALEDATA_API_KEY=${keys[0]}`,
      `"api_key": "${keys[1]}",`,
      `Authorization: Bearer ${keys[2]}`,
      `curl -H 'Authorization: Bearer ${keys[3]}' https://api.example.com/me`,
      `key=${keys[4]}&other=1`,
      keys.slice(5).join('\n'),
    ].join('\n');
    expect(scan(text)).toEqual(keys);
    for (const key of keys) expect(isWellFormedApiKey(key)).toBe(true);
  });

  it('misses near-misses: wrong length, wrong prefix, bad checksum, embedded in a longer word', () => {
    const key = generateApiKey();
    const lastSwapped = `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`;
    const nearMisses = [
      key.slice(0, -1), // one character short
      `${key}0`, // one character long
      `sk_${key.slice(4)}`,
      `SKD_${key.slice(4)}`,
      `skd-${key.slice(4)}`,
      lastSwapped, // checksum wrong
      `${key.slice(0, 10)}${key[11]}${key[10]}${key.slice(12)}`, // two random characters swapped
      `xskd_${key.slice(4)}`, // a longer word
      `my_${key}`,
      `${key}_suffix`,
      `${key.slice(0, 20)}-${key.slice(21)}`,
    ].filter((candidate) => candidate !== key);
    for (const candidate of nearMisses) {
      expect(scan(`token: ${candidate}\n`), candidate).toEqual([]);
      expect(isWellFormedApiKey(candidate), candidate).toBe(false);
    }
  });
});
