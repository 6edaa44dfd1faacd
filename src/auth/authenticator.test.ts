import { describe, expect, it } from 'vitest';
import { bearerToken } from './authenticator.js';

// The regex the scan replaced (RFC 6750 `Bearer 1*SP token`, OWS = SP / HTAB around the value).
const BEARER = /^Bearer +([!-~]+)$/i;
const reference = (header: string): string | null => BEARER.exec(header.replace(/^[ \t]+|[ \t]+$/g, ''))?.[1] ?? null;

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bEaReR   abc', 'abc'],
    ['\t Bearer abc \t', 'abc'],
    ['Bearer', null],
    ['Bearer ', null],
    ['Bearerabc', null],
    ['Bearer\tabc', null],
    ['Bearer a b', null],
    ['Basic abc', null],
    ['Bearer ab\u00e9', null],
    ['', null],
    ['Bearer  \u0130', null],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
    expect(reference(header)).toBe(token);
  });

  it('agrees with the reference regex on random headers', () => {
    const alphabet = ['B', 'b', 'e', 'E', 'a', 'A', 'r', 'R', ' ', '\t', 'x', '.', '~', '\u007f', '\u00e9', '\n', 'k', 'ſ', 'K'];
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20_000; i++) {
      const prefix = random() < 0.7 ? ['Bearer', 'bearer', 'BEARER', ' Bearer', 'Bearer\t'][Math.floor(random() * 5)] : '';
      let rest = '';
      const length = Math.floor(random() * 8);
      for (let j = 0; j < length; j++) rest += alphabet[Math.floor(random() * alphabet.length)];
      const header = `${prefix}${rest}`;
      expect(bearerToken(header), JSON.stringify(header)).toBe(reference(header));
    }
  });
});
