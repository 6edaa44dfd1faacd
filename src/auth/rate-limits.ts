import type { RateLimit } from './principal.js';

/**
 * The bounds of a rate limit, on a key (`rate_limit`) and in RATE_LIMIT_DEFAULT / AUTH_FAILURE_LIMIT:
 * at least one request per window, at most a million; a window of one second to one day. Outside them a
 * limit is a mistake (0 refuses everything; a window of years never resets), answered 400 or ConfigError.
 */
export const RATE_LIMIT_BOUNDS = {
  requests: { min: 1, max: 1_000_000 },
  perSeconds: { min: 1, max: 86_400 },
} as const;

/** Why a limit is refused, with the field it names (`requests` or `per_seconds`). */
export class RateLimitError extends Error {
  constructor(
    readonly field: 'requests' | 'per_seconds',
    message: string,
  ) {
    super(message);
    this.name = 'RateLimitError';
  }
}

const within = (value: number, bounds: { min: number; max: number }): boolean => Number.isSafeInteger(value) && value >= bounds.min && value <= bounds.max;

/** The limit if both numbers are whole and within RATE_LIMIT_BOUNDS; otherwise a RateLimitError naming the first bad one. */
export function checkRateLimit(requests: number, perSeconds: number): RateLimit {
  const { requests: r, perSeconds: s } = RATE_LIMIT_BOUNDS;
  if (!within(requests, r)) throw new RateLimitError('requests', `must be a whole number from ${r.min} to ${r.max.toLocaleString('en-US')}`);
  if (!within(perSeconds, s)) throw new RateLimitError('per_seconds', `must be a whole number of seconds from ${s.min} to ${s.max.toLocaleString('en-US')}`);
  return Object.freeze({ requests, perSeconds });
}

/** `N/S` (e.g. `600/60`: 600 requests per 60 seconds), as RATE_LIMIT_DEFAULT and AUTH_FAILURE_LIMIT write a limit. */
export function parseRateSpec(text: string): RateLimit {
  const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(text);
  if (!match) throw new RateLimitError('requests', 'must be N/S: N requests per S seconds, e.g. 600/60');
  return checkRateLimit(Number(match[1]), Number(match[2]));
}

/** A key's own rate limit from its two columns (written together), or null (= the server default). */
export function storedRateLimit(row: { rate_limit_requests: number | null; rate_limit_per_seconds: number | null }): RateLimit | null {
  const { rate_limit_requests: requests, rate_limit_per_seconds: perSeconds } = row;
  return requests === null || perSeconds === null ? null : { requests: Number(requests), perSeconds: Number(perSeconds) };
}
