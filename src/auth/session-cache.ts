import { hash } from 'node:crypto';
import { LruMap } from '../lib/lru.js';
import type { UserPrincipal } from './principal.js';

/**
 * Verified Clerk session tokens, so a hot session costs one SHA-256 and one map lookup instead of an
 * RSA verification. A session token cannot be revoked before its `exp` (Clerk's tokens live about a
 * minute), so remembering the verified principal until then changes nothing a client can observe.
 * Entries are keyed by a hash of the token, never the token itself, and are served only strictly
 * before `exp`; after it the full verifier decides again (with its clock-skew policy) and refuses.
 */
export interface VerifiedSession {
  principal: UserPrincipal;
  /** The token's `exp`, in ms since the epoch. */
  expiresAtMs: number;
}

interface Entry {
  principal: Readonly<UserPrincipal>;
  expiresAtMs: number;
}

export function sessionCacheKey(token: string): string {
  return hash('sha256', token, 'base64url');
}

export class SessionCache {
  readonly #entries: LruMap<string, Entry>;
  readonly #now: () => number;
  readonly #inflight = new Map<string, Promise<Readonly<UserPrincipal>>>();
  /** Answers from memory and tokens that had to be verified, since start (GET /metrics reads them; one increment each). */
  readonly #counts = { hits: 0, misses: 0 };

  /** `now` is wall-clock ms, the same clock the verifier checks `exp` against. */
  constructor(maxEntries: number, now: () => number = Date.now) {
    this.#entries = new LruMap(maxEntries);
    this.#now = now;
  }

  get(key: string): Readonly<UserPrincipal> | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      if (this.#now() < entry.expiresAtMs) {
        this.#counts.hits++;
        return entry.principal;
      }
      this.#entries.delete(key);
    }
    this.#counts.misses++;
    return undefined;
  }

  /**
   * Verifies through `verify` and remembers the session until its `exp`; concurrent first requests
   * with the same token share one verification. Rejections are not remembered.
   */
  load(key: string, verify: () => Promise<VerifiedSession>): Promise<Readonly<UserPrincipal>> {
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    const promise = verify()
      .then((session) => {
        const principal = Object.freeze({ ...session.principal });
        if (this.#now() < session.expiresAtMs) this.#entries.set(key, { principal, expiresAtMs: session.expiresAtMs });
        return principal;
      })
      .finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, promise);
    return promise;
  }

  get counts(): Readonly<{ hits: number; misses: number }> {
    return { ...this.#counts };
  }

  get size(): number {
    return this.#entries.size;
  }
}
