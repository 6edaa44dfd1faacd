import { describe, expect, it } from 'vitest';
import { RETRY_DELAYS_MS, retryDelay } from './delivery-worker.js';

describe('retryDelay', () => {
  it('follows the schedule, within ±10 % jitter', () => {
    expect(retryDelay(1, () => 0)).toBe(4_500);
    expect(retryDelay(1, () => 0.5)).toBe(5_000);
    expect(retryDelay(1, () => 1)).toBe(5_500);
    expect(retryDelay(9, () => 0.5)).toBe(12 * 3_600_000);
  });

  it('gives up after the tenth attempt, about a day after the first', () => {
    expect(retryDelay(RETRY_DELAYS_MS.length + 1)).toBeNull();
    const total = RETRY_DELAYS_MS.reduce((sum, ms) => sum + ms, 0);
    expect(total).toBeGreaterThan(20 * 3_600_000);
    expect(total).toBeLessThan(26 * 3_600_000);
  });
});
