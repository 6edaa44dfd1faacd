import { describe, expect, it } from 'vitest';
import { calendarMonthOf, usageIn, type UsageInterval } from './usage.js';

const at = (iso: string) => new Date(iso);

describe('calendarMonthOf', () => {
  it.each([
    ['2030-03-10T08:00:00.000Z', '2030-03-01T00:00:00.000Z', '2030-04-01T00:00:00.000Z'],
    ['2030-12-31T23:59:59.999Z', '2030-12-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z'],
    ['2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.000Z', '2030-02-01T00:00:00.000Z'],
    ['2028-02-29T12:00:00.000Z', '2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z'],
  ])('%s is in [%s, %s)', (now, start, end) => {
    const period = calendarMonthOf(at(now));
    expect(period.start.toISOString()).toBe(start);
    expect(period.end.toISOString()).toBe(end);
  });
});

describe('usageIn', () => {
  const march = calendarMonthOf(at('2030-03-10T00:00:00.000Z'));
  const record = (resource_type: string, quantity: number, started_at: string, ended_at: string | null): UsageInterval => ({
    resource_type,
    quantity,
    started_at,
    ended_at,
  });

  it('weights node pool hours by the node count and counts open records up to now', () => {
    const usage = usageIn(
      [
        record('cluster', 1, '2030-03-10T00:00:00.000Z', null),
        record('node_pool', 3, '2030-03-10T00:00:00.000Z', '2030-03-10T01:00:00.000Z'),
        record('node_pool', 5, '2030-03-10T01:00:00.000Z', null),
      ],
      march,
      at('2030-03-10T02:30:00.000Z'),
    );
    expect(usage).toEqual({ cluster_hours: 2.5, node_hours: 3 + 5 * 1.5 });
  });

  it('clips records to the period on both sides', () => {
    const usage = usageIn(
      [
        record('cluster', 1, '2030-02-28T22:00:00.000Z', '2030-03-01T03:00:00.000Z'),
        record('node_pool', 2, '2030-03-31T23:00:00.000Z', null),
      ],
      march,
      at('2030-04-01T05:00:00.000Z'),
    );
    expect(usage).toEqual({ cluster_hours: 3, node_hours: 2 });
  });

  it('ignores records outside the period or starting after now, and unknown kinds', () => {
    const usage = usageIn(
      [
        record('cluster', 1, '2030-02-01T00:00:00.000Z', '2030-03-01T00:00:00.000Z'),
        record('cluster', 1, '2030-03-20T00:00:00.000Z', null),
        record('gpu', 4, '2030-03-01T00:00:00.000Z', null),
      ],
      march,
      at('2030-03-10T00:00:00.000Z'),
    );
    expect(usage).toEqual({ cluster_hours: 0, node_hours: 0 });
  });

  it('rounds the totals, not each record, to 2 decimals', () => {
    // 3 × 20 s = 60 s = 0.01666… h: rounding each record first would give 0.
    const records = [0, 1, 2].map((i) => record('cluster', 1, `2030-03-10T00:0${i}:00.000Z`, `2030-03-10T00:0${i}:20.000Z`));
    expect(usageIn(records, march, at('2030-03-11T00:00:00.000Z')).cluster_hours).toBe(0.02);
  });
});
