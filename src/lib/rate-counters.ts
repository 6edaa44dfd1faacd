import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { LruMap } from './lru.js';

/** `requests` per `perSeconds`-second window. */
export interface Window {
  readonly requests: number;
  readonly perSeconds: number;
}

/** One counted hit: whether it was within the window's budget, what is left, and when the window resets. */
export interface HitResult {
  readonly allowed: boolean;
  readonly remaining: number;
  /** Whole seconds until the window resets (at least 1 while something is counted). */
  readonly resetSeconds: number;
  /** The same in milliseconds. */
  readonly resetMs: number;
}

export interface RateCounters {
  /**
   * Counts one hit for `key` (in `namespace`) against `window`; `onResult` is called once, after the
   * counter answered (a callback rather than a promise chain: this runs on every request of a limited
   * key). Never fails: when the shared store
   * (Redis) cannot answer, the count is made in this process (see createRateCounters); when even that
   * fails, the hit is allowed (a limiter fault must never refuse or stall a request).
   */
  hit(namespace: string, key: string, window: Window, onResult: (hit: HitResult) => void): void;
  /** Whether counts are shared through Redis (false: this process only). */
  readonly shared: boolean;
  close(): Promise<void>;
}

export interface RateCounterOptions {
  /** REDIS_URL; null = counters in this process. */
  redisUrl: string | null;
  /** Prefix of every Redis key (several deployments, or test runs, may share one Redis). */
  keyPrefix?: string;
  /** Told once when Redis becomes unreachable, and once when it is back. */
  warn: (message: string, error?: Error) => void;
  info?: (message: string) => void;
}

/** Limiters kept, one per (namespace, window); enough for every distinct key limit in practice. */
const MAX_LIMITERS = 10_000;
/** A Redis command slower than this is abandoned and the hit counted in process instead. */
const REDIS_COMMAND_TIMEOUT_MS = 250;

const ALLOWED_ON_FAULT: HitResult = Object.freeze({ allowed: true, remaining: 0, resetSeconds: 0, resetMs: 0 });

function toResult(res: RateLimiterRes, window: Window, allowed: boolean): HitResult {
  return {
    allowed,
    remaining: allowed ? Math.max(window.requests - res.consumedPoints, 0) : 0,
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    resetMs: Math.max(0, res.msBeforeNext),
  };
}

/**
 * Fixed-window counters from `rate-limiter-flexible`: in process (RateLimiterMemory), or shared by every
 * instance through Redis (RateLimiterRedis over ioredis, one atomic INCR+PEXPIRE script per hit).
 *
 * Redis down (CONTRACT §7, README "Rate limits"): every Redis limiter has an in-process twin as its
 * `insuranceLimiter`, and ioredis is set to fail a command at once rather than queue it while
 * disconnected (`enableOfflineQueue: false`, `rejectIfRedisNotReady`) and to give up on a command after
 * 250 ms. So when Redis is unreachable, each instance counts on its own (a key may then get up to its limit
 * per instance), requests are never held waiting for Redis, and never answered 500. A warning is logged
 * once when Redis goes away, and a line when it is back; ioredis keeps reconnecting in the background.
 */
export function createRateCounters(options: RateCounterOptions): RateCounters {
  const prefix = options.keyPrefix ?? 'skd:rl';
  let redis: Redis | null = null;
  if (options.redisUrl !== null) {
    let down = false;
    redis = new Redis(options.redisUrl, {
      enableOfflineQueue: false,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: 2_000,
      maxRetriesPerRequest: 0,
      // Keep trying, but no faster than every 2 s.
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
      lazyConnect: false,
    });
    redis.on('error', (error: Error) => {
      if (down) return;
      down = true;
      options.warn('Redis is unreachable: rate limits are counted in each instance until it is back', error);
    });
    redis.on('ready', () => {
      if (!down) return;
      down = false;
      options.info?.('Redis is reachable again: rate limits are shared across instances');
    });
  }

  const limiters = new LruMap<string, RateLimiterAbstract>(MAX_LIMITERS);

  function limiterFor(namespace: string, window: Window): RateLimiterAbstract {
    const id = `${namespace}:${window.requests}/${window.perSeconds}`;
    let limiter = limiters.get(id);
    if (limiter === undefined) {
      // The window is part of the key prefix: a key whose limit changes starts a fresh count under it.
      const base = { points: window.requests, duration: window.perSeconds, keyPrefix: `${prefix}:${id}` };
      limiter =
        redis === null
          ? new RateLimiterMemory(base)
          : new RateLimiterRedis({
              ...base,
              storeClient: redis,
              rejectIfRedisNotReady: true,
              insuranceLimiter: new RateLimiterMemory(base),
              // Once the window's budget is spent, this instance refuses the key from memory until the
              // window ends (the shared count can only grow until then): no Redis round trip per refusal.
              inMemoryBlockOnConsumed: window.requests,
            });
      limiters.set(id, limiter);
    }
    return limiter;
  }

  return {
    shared: redis !== null,
    hit(namespace, key, window, onResult) {
      const deliver = (hit: HitResult): void => {
        try {
          onResult(hit);
        } catch (error) {
          options.warn('rate limit result handler failed', error instanceof Error ? error : new Error(String(error)));
        }
      };
      let pending: Promise<RateLimiterRes>;
      try {
        pending = limiterFor(namespace, window).consume(key);
      } catch (error) {
        options.warn('rate limiter failed; the request is let through', error instanceof Error ? error : new Error(String(error)));
        deliver(ALLOWED_ON_FAULT);
        return;
      }
      pending.then(
        (res) => deliver(toResult(res, window, true)),
        (rejection: unknown) => {
          // Over the limit: the library rejects with the counter's state.
          if (rejection instanceof RateLimiterRes) return deliver(toResult(rejection, window, false));
          options.warn('rate limiter failed; the request is let through', rejection instanceof Error ? rejection : new Error(String(rejection)));
          deliver(ALLOWED_ON_FAULT);
        },
      );
    },
    async close() {
      if (redis !== null) redis.disconnect();
    },
  };
}
