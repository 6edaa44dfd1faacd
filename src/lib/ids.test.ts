import { describe, expect, it } from 'vitest';
import { BASE62, isWellFormedId, newId, randomBase62 } from './ids.js';

describe('randomBase62', () => {
  it('gives strings of the asked length over the base62 alphabet, all different across pool refills', () => {
    const seen = new Set<string>();
    // 20 characters take about 21 pool bytes: 5,000 of them cross the 4 KB pool many times.
    for (let i = 0; i < 5000; i++) {
      const value = randomBase62(20);
      expect(value).toMatch(/^[0-9A-Za-z]{20}$/);
      seen.add(value);
    }
    expect(seen.size).toBe(5000);
    expect(randomBase62(0)).toBe('');
    expect(randomBase62(5000)).toHaveLength(5000);
  });

  it('is uniform over the alphabet (chi-square, 61 degrees of freedom)', () => {
    const counts = new Map<string, number>();
    const text = randomBase62(620_000);
    for (const char of text) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = text.length / 62;
    let chiSquare = 0;
    for (const char of BASE62) chiSquare += ((counts.get(char) ?? 0) - expected) ** 2 / expected;
    // The p = 0.0001 critical value for 61 degrees of freedom is about 110. A modulo bias (bytes
    // 248–255 kept, making the first 8 characters 25% likelier) would score about 4,000 here.
    expect(chiSquare).toBeLessThan(110);
  });
});

describe('newId', () => {
  it('is prefixed, well-formed and sorts by creation time', () => {
    const earlier = newId('cluster', 1_700_000_000_000);
    const later = newId('cluster', 1_700_000_000_001);
    expect(isWellFormedId(earlier)).toBe(true);
    expect(earlier.startsWith('cls_')).toBe(true);
    expect(earlier < later).toBe(true);
  });

  it('ids made within one millisecond still sort in the order they were made', () => {
    const made = Array.from({ length: 1000 }, (_, i) => newId(i % 2 === 0 ? 'cloud' : 'cluster', 1_700_000_000_500).slice(4));
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
    // A later millisecond starts from fresh randomness again.
    const next = newId('cloud', 1_700_000_000_501);
    expect(next.slice(4) > (made.at(-1) as string)).toBe(true);
  });
});
