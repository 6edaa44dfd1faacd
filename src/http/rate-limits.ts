import type { FastifyReply } from 'fastify';
import type { ApiKeyPrincipal, RateLimit } from '../auth/principal.js';
import { LruMap } from '../lib/lru.js';
import type { HitResult, RateCounters } from '../lib/rate-counters.js';

/**
 * The rate limits of CONTRACT §7, around the counters of lib/rate-counters.ts: a key's own limit (or
 * RATE_LIMIT_DEFAULT) and the throttle of invalid credentials per client address (AUTH_FAILURE_LIMIT).
 */
export interface RequestLimits {
  /** The limit that applies to a key: its own, else the server default; null = not limited. */
  limitOf(principal: ApiKeyPrincipal): RateLimit | null;
  /**
   * A key that has spent its window under this same limit: the refusal's state, answered without counting
   * (synchronously, no I/O) until the window ends; null = count it with hitKey.
   */
  spentKey(keyId: string, limit: RateLimit): HitResult | null;
  /** Counts one request of a limited key. */
  hitKey(keyId: string, limit: RateLimit, onResult: (hit: HitResult) => void): void;
  /**
   * Seconds an address must still wait after too many invalid credentials; 0 = not throttled. Synchronous
   * and without I/O: it runs before any credential is looked up.
   */
  throttledFor(from: { readonly ip: string }): number;
  /** Records an invalid credential (step 2's invalid_token) from `address`; counted behind the answer. */
  noteInvalidCredential(address: string): void;
  close(): Promise<void>;
}

/** The policy name in the RateLimit fields (one policy per key). */
const POLICY = '"api-key"';

/**
 * The rate limit fields of draft-ietf-httpapi-ratelimit-headers-10 (September 2025), Structured Field
 * Lists of one item each: `RateLimit-Policy: "api-key";q=<quota>;w=<window seconds>` and
 * `RateLimit: "api-key";r=<remaining>;t=<seconds until the window resets>`. Set on every response to a
 * limited key, 2xx included; a 429 also carries Retry-After.
 */
export function setRateLimitHeaders(reply: FastifyReply, limit: RateLimit, hit: HitResult): void {
  reply.header('ratelimit-policy', `${POLICY};q=${limit.requests};w=${limit.perSeconds}`);
  reply.header('ratelimit', `${POLICY};r=${hit.remaining};t=${hit.resetSeconds}`);
}

/** Keys remembered as over their limit at most; beyond, the oldest unread are counted again (and refused again). */
const MAX_SPENT_KEYS = 100_000;

/** Addresses remembered as throttled at most; beyond, the oldest unread go (they are retried, counted again). */
const MAX_THROTTLED_ADDRESSES = 100_000;

export function createRequestLimits(options: { counters: RateCounters; keyDefault: RateLimit | null; authFailures: RateLimit | null; now?: () => number }): RequestLimits {
  const { counters, keyDefault, authFailures } = options;
  const now = options.now ?? Date.now;
  /** Address → the instant (ms) its throttle ends. Read synchronously on every credentialed request. */
  const throttled = new LruMap<string, number>(authFailures === null ? 0 : MAX_THROTTLED_ADDRESSES);
  /**
   * Key → until when (ms) it is over its limit, and under which limit. A fixed window's count only grows
   * until it ends, so a key refused once is refused until then: later requests are answered from here, as
   * the library's own in-memory block would, but without a promise. A changed limit (PATCH) is counted anew.
   */
  const spent = new LruMap<string, { until: number; limit: RateLimit }>(MAX_SPENT_KEYS);

  return {
    limitOf: (principal) => principal.rateLimit ?? keyDefault,
    spentKey(keyId, limit) {
      if (spent.size === 0) return null;
      const entry = spent.get(keyId);
      if (entry === undefined) return null;
      const left = entry.until - now();
      if (left <= 0 || entry.limit.requests !== limit.requests || entry.limit.perSeconds !== limit.perSeconds) {
        spent.delete(keyId);
        return null;
      }
      return { allowed: false, remaining: 0, resetSeconds: Math.max(1, Math.ceil(left / 1000)), resetMs: left };
    },
    hitKey: (keyId, limit, onResult) =>
      counters.hit('key', keyId, limit, (hit) => {
        if (!hit.allowed && hit.resetMs > 0) spent.set(keyId, { until: now() + hit.resetMs, limit });
        onResult(hit);
      }),
    throttledFor(from) {
      // The client address is read only while some address is throttled (`ip` is a getter on the request).
      if (throttled.size === 0) return 0;
      const address = from.ip;
      const until = throttled.get(address);
      if (until === undefined) return 0;
      const left = until - now();
      if (left <= 0) {
        throttled.delete(address);
        return 0;
      }
      return Math.ceil(left / 1000);
    },
    noteInvalidCredential(address) {
      if (authFailures === null) return;
      // The count is kept by the counters (shared through Redis when set); the throttle itself is
      // remembered here once the budget is spent, so later attempts are refused without any I/O. Another
      // instance learns it at its own next failure from that address (the shared count is already over).
      counters.hit('auth-failure', address, authFailures, (hit) => {
        if (hit.remaining === 0 && hit.resetSeconds > 0) throttled.set(address, now() + hit.resetSeconds * 1000);
      });
    },
    close: () => counters.close(),
  };
}
