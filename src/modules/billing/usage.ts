/**
 * Usage arithmetic, kept pure so it is tested alone. Periods and records are half-open intervals
 * [start, end); an open record (no end yet) runs up to "now".
 */

export interface Period {
  start: Date;
  end: Date;
}

/** The calendar month in UTC that contains `at`: billing periods never depend on a server's time zone. */
export function calendarMonthOf(at: Date): Period {
  const year = at.getUTCFullYear();
  const month = at.getUTCMonth();
  return { start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

export interface UsageInterval {
  resource_type: string;
  quantity: number;
  started_at: string;
  ended_at: string | null;
}

export interface UsageTotals {
  cluster_hours: number;
  node_hours: number;
}

const HOUR_MS = 3_600_000;

/** Rounded once, at the end, so many short records do not accumulate rounding error. */
const round2 = (value: number): number => Math.round(value * 100) / 100;

/** quantity × hours of each record that fall inside the period and not after `now`. */
export function usageIn(records: readonly UsageInterval[], period: Period, now: Date): UsageTotals {
  const windowEnd = Math.min(period.end.getTime(), now.getTime());
  let clusterMs = 0;
  let nodeMs = 0;
  for (const record of records) {
    const from = Math.max(Date.parse(record.started_at), period.start.getTime());
    const to = Math.min(record.ended_at === null ? windowEnd : Date.parse(record.ended_at), windowEnd);
    if (!(to > from)) continue;
    const weighted = (to - from) * record.quantity;
    if (record.resource_type === 'cluster') clusterMs += weighted;
    else if (record.resource_type === 'node_pool') nodeMs += weighted;
  }
  return { cluster_hours: round2(clusterMs / HOUR_MS), node_hours: round2(nodeMs / HOUR_MS) };
}
