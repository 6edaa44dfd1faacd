import { describe, expect, it } from 'vitest';
import { checkRateLimit, parseRateSpec, RateLimitError } from './rate-limits.js';

describe('rate limits', () => {
  it('reads N/S', () => {
    expect(parseRateSpec('600/60')).toEqual({ requests: 600, perSeconds: 60 });
    expect(parseRateSpec(' 1 / 86400 ')).toEqual({ requests: 1, perSeconds: 86_400 });
  });

  it.each(['', '600', '600/', '/60', '0/60', '600/0', '-1/60', '1.5/60', '600/86401', '1000001/60', 'a/b', '600/60/1'])('refuses %j', (text) => {
    expect(() => parseRateSpec(text)).toThrow(RateLimitError);
  });

  it('names the field out of bounds', () => {
    expect(() => checkRateLimit(0, 60)).toThrow(expect.objectContaining({ field: 'requests' }));
    expect(() => checkRateLimit(10, 1e9)).toThrow(expect.objectContaining({ field: 'per_seconds' }));
    expect(() => checkRateLimit(Number.NaN, 60)).toThrow(expect.objectContaining({ field: 'requests' }));
  });
});
