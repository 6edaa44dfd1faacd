import { performance } from 'node:perf_hooks';
import { LruMap } from '../lib/lru.js';
import type { StoredKeyForAuth } from './authenticator.js';
import type { ApiKeyPrincipal } from './principal.js';

/**
 * The in-process cache of API keys by digest, in front of the database lookup, so a hot key costs one
 * HMAC and one map lookup. What keeps it safe (CONTRACT §4, security-test-plan §2.5):
 * - Validity is never cached: each entry carries the instant it stops being accepted (expiry, the end
 *   of a roll's grace, or "already" once revoked) and the authenticator compares it with the clock on
 *   every request, so caching never extends a key's life.
 * - Every change to a key evicts it here after its commit, and on every other instance through the
 *   change feed (PostgreSQL NOTIFY); while the feed is down the cache is suspended (every request reads
 *   the database) and it starts empty when the feed is back, since notifications sent meanwhile are lost.
 * - An eviction bumps an epoch; a load that began before it does not store its (possibly stale) answer.
 * - A time-to-live bounds how long any answer is trusted without a reload, should all of the above miss.
 * Keys that match nothing are remembered too (a bounded negative cache, so a flood of unknown keys does
 * not reach the database each time); creating or rolling a key forgets its new digest there.
 */
export interface KeyCacheOptions {
  /** Known keys kept (LRU); 0 turns the positive cache off. */
  maxKeys: number;
  /** Digests that matched no key kept (LRU); 0 turns the negative cache off. */
  maxUnknown: number;
  /** How long any entry is trusted without a reload, in ms; 0 turns caching off. */
  ttlMs: number;
  /** Monotonic milliseconds: the TTL bounds trust in real time, whatever the injectable clock says. */
  monotonicNow?: () => number;
}

export interface CachedKey {
  readonly keyId: string;
  /** Built once per load and shared by every request: never mutated. */
  readonly principal: Readonly<ApiKeyPrincipal>;
  /** Refused at and after this instant (ms, the app's clock); -Infinity once revoked. */
  readonly refusedFromMs: number;
  /** When the database read that produced this entry began (monotonic ms). */
  readonly loadedAt: number;
}

/** What a change feed message says: the key whose cached answers are void, and digests that now exist. */
export interface KeyChange {
  keyId: string;
  newDigests: string[];
}

const earliest = (a: Date | null, b: Date | null): number =>
  Math.min(a === null ? Infinity : a.getTime(), b === null ? Infinity : b.getTime());

export function toCachedKey(stored: StoredKeyForAuth, loadedAt: number): CachedKey {
  const principal: ApiKeyPrincipal = Object.freeze({
    type: 'api_key' as const,
    keyId: stored.id,
    keyName: stored.name,
    accountId: stored.accountId,
    scopes: Object.freeze([...stored.scopes]) as ApiKeyPrincipal['scopes'],
    userId: stored.createdBy,
  });
  return {
    keyId: stored.id,
    principal,
    refusedFromMs: stored.revokedAt !== null ? -Infinity : earliest(stored.expiresAt, stored.graceEndsAt),
    loadedAt,
  };
}

const DIGEST = /^[0-9a-f]{64}$/;
const KEY_ID = /^key_[0-9A-Za-z]{1,64}$/;

/** The NOTIFY payload: `<key id>[ <digest>…]`, well under PostgreSQL's 8000-byte limit. */
export function encodeKeyChange(change: KeyChange): string {
  return [change.keyId, ...change.newDigests].join(' ');
}

/** null when the payload is not one we sent: the caller then forgets everything (fail safe). */
export function decodeKeyChange(payload: string): KeyChange | null {
  const [keyId, ...newDigests] = payload.split(' ');
  if (keyId === undefined || !KEY_ID.test(keyId) || !newDigests.every((digest) => DIGEST.test(digest))) return null;
  return { keyId, newDigests };
}

export class KeyCache {
  readonly #known: LruMap<string, CachedKey>;
  readonly #unknown: LruMap<string, number>;
  /** Key id → its cached digests (the current secret and a rolled-away one in grace). */
  readonly #digestsOf = new Map<string, string[]>();
  readonly #inflight = new Map<string, { epoch: number; promise: Promise<CachedKey | null> }>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  #epoch = 0;
  #suspended = false;

  constructor(options: KeyCacheOptions) {
    const off = options.ttlMs <= 0;
    this.#known = new LruMap(off ? 0 : options.maxKeys, (digest, entry) => this.#unindex(entry.keyId, digest));
    this.#unknown = new LruMap(off ? 0 : options.maxUnknown);
    this.#ttlMs = options.ttlMs;
    this.#now = options.monotonicNow ?? (() => performance.now());
  }

  /** The cached answer for a digest: an entry, null for "matches no key", undefined for "ask the database". */
  get(digest: string): CachedKey | null | undefined {
    const entry = this.#known.get(digest);
    if (entry !== undefined) {
      if (this.#now() - entry.loadedAt < this.#ttlMs) return entry;
      this.#known.delete(digest);
      this.#unindex(entry.keyId, digest);
      return undefined;
    }
    const unknownSince = this.#unknown.get(digest);
    if (unknownSince !== undefined) {
      if (this.#now() - unknownSince < this.#ttlMs) return null;
      this.#unknown.delete(digest);
    }
    return undefined;
  }

  /**
   * Reads through `find`, with one database read at a time per digest. A request only joins a read
   * begun in the current epoch, so nothing that arrives after an eviction gets an answer read before it.
   */
  load(digest: string, find: (digest: string) => Promise<StoredKeyForAuth | null>): Promise<CachedKey | null> {
    const epoch = this.#epoch;
    const pending = this.#inflight.get(digest);
    if (pending !== undefined && pending.epoch === epoch) return pending.promise;
    const startedAt = this.#now();
    const promise = find(digest)
      .then((stored) => {
        const entry = stored === null ? null : toCachedKey(stored, startedAt);
        if (epoch === this.#epoch && !this.#suspended) this.#store(digest, entry, startedAt);
        return entry;
      })
      .finally(() => {
        if (this.#inflight.get(digest)?.promise === promise) this.#inflight.delete(digest);
      });
    this.#inflight.set(digest, { epoch, promise });
    return promise;
  }

  /** A key changed (revoked, rolled, expired early, scopes changed): drop every answer about it. */
  evictKey(keyId: string): void {
    this.#epoch++;
    const digests = this.#digestsOf.get(keyId);
    if (digests === undefined) return;
    this.#digestsOf.delete(keyId);
    for (const digest of digests) this.#known.delete(digest);
  }

  /** A digest now belongs to a key (created, rolled): it may no longer be answered "unknown". */
  forgetUnknown(digest: string): void {
    this.#epoch++;
    this.#unknown.delete(digest);
  }

  apply(change: KeyChange): void {
    this.evictKey(change.keyId);
    for (const digest of change.newDigests) this.forgetUnknown(digest);
  }

  clear(): void {
    this.#epoch++;
    this.#known.clear();
    this.#unknown.clear();
    this.#digestsOf.clear();
  }

  /** Changes may go unseen (the change feed is down): forget everything and store nothing until resume. */
  suspend(): void {
    this.#suspended = true;
    this.clear();
  }

  /** The change feed listens again: start from empty, since changes made meanwhile were not seen. */
  resume(): void {
    this.clear();
    this.#suspended = false;
  }

  get suspended(): boolean {
    return this.#suspended;
  }

  get size(): { known: number; unknown: number } {
    return { known: this.#known.size, unknown: this.#unknown.size };
  }

  #store(digest: string, entry: CachedKey | null, at: number): void {
    if (entry === null) {
      this.#unknown.set(digest, at);
      return;
    }
    const previous = this.#known.delete(digest);
    if (previous !== undefined) this.#unindex(previous.keyId, digest);
    this.#known.set(digest, entry);
    if (this.#known.capacity === 0) return;
    const digests = this.#digestsOf.get(entry.keyId);
    if (digests === undefined) this.#digestsOf.set(entry.keyId, [digest]);
    else if (!digests.includes(digest)) digests.push(digest);
  }

  #unindex(keyId: string, digest: string): void {
    const digests = this.#digestsOf.get(keyId);
    if (digests === undefined) return;
    const rest = digests.filter((d) => d !== digest);
    if (rest.length === 0) this.#digestsOf.delete(keyId);
    else this.#digestsOf.set(keyId, rest);
  }
}
