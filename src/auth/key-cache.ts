import { hash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LruMap } from '../lib/lru.js';
import { ipAllowlist } from './ip-allowlist.js';
import type { ApiKeyPrincipal, RateLimit } from './principal.js';
import type { CanaryTrip } from './canary.js';
import { resourceFence, type ResourceList } from './resource-fence.js';
import type { Scope } from './scopes.js';

/** What authentication needs to know about a stored key, found by its digest. */
export interface StoredKeyForAuth {
  id: string;
  accountId: string;
  name: string;
  scopes: Scope[];
  createdBy: string;
  /** The digest matched a rolled-away secret whose grace ends at this instant. */
  graceEndsAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** The CIDRs the key may be used from; null = any. */
  allowedIps: readonly string[] | null;
  /** The only clusters and apps the key may see; null = the whole account. */
  resources: ResourceList | null;
  /** Scopes that lapse before the key; null = none. */
  scopeExpiresAt: ReadonlyArray<readonly [Scope, Date]> | null;
  /** The key's own rate limit; null = the server default. */
  rateLimit: RateLimit | null;
  /** A canary (tripwire) key: every use is refused as if unknown, and reported (CONTRACT §7). */
  canary: boolean;
  /**
   * Set when the digest matched the current secret of a key rolled with `retire_old: on_first_use` whose
   * old secret still works: this use retires it. `digest` is the current secret's (the retire is
   * conditional on it), `until` when the old secret's grace ends anyway.
   */
  retiresPrevious: { digest: string; until: Date } | null;
}

/**
 * The in-process cache of API keys, in front of the database lookup, so a hot key costs one SHA-256 and
 * one map lookup. Entries are found by a lookup key, a plain SHA-256 of the presented key (`keyLookupId`):
 * it never leaves the process, and with 190 random bits behind it a hash is as good a name as the
 * peppered HMAC — which is only computed on a miss, to read the database by the stored digest. Node's
 * one-shot hash costs a fraction of an HMAC object (OpenSSL context, key import, native wrapper and GC).
 * What keeps the cache safe (CONTRACT §4, security-test-plan §2.5):
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
  /** A canary key's trip (refused as unknown and reported, never admitted), built once per load; null for every other key. */
  readonly canary: CanaryTrip | null;
  /**
   * The first use of this (new) secret retires the rolled-away one until `untilMs` (the app's clock; after
   * it the old one is refused anyway). Kept on the entry, not the principal, so every cached use sees it
   * until the retire is committed and the entry evicted (api-key-store.ts).
   */
  readonly retiresPrevious: { readonly digest: string; readonly untilMs: number } | null;
}

/** What a change feed message says: the key whose cached answers are void, and digests that now exist. */
export interface KeyChange {
  keyId: string;
  newDigests: string[];
}

const earliest = (a: Date | null, b: Date | null): number =>
  Math.min(a === null ? Infinity : a.getTime(), b === null ? Infinity : b.getTime());

/** The name a presented key is cached under (see KeyCache). */
export function keyLookupId(key: string): string {
  return hash('sha256', key, 'base64');
}

export function toCachedKey(stored: StoredKeyForAuth, loadedAt: number): CachedKey {
  const principal: ApiKeyPrincipal = Object.freeze({
    type: 'api_key' as const,
    keyId: stored.id,
    keyName: stored.name,
    accountId: stored.accountId,
    scopes: Object.freeze([...stored.scopes]) as ApiKeyPrincipal['scopes'],
    userId: stored.createdBy,
    // Parsed once per load; stored lists were checked when written.
    allowedIps: stored.allowedIps === null ? null : ipAllowlist(stored.allowedIps),
    resources: stored.resources === null ? null : resourceFence(stored.resources),
    scopeLapses: stored.scopeExpiresAt === null ? null : new Map(stored.scopeExpiresAt.map(([scope, at]) => [scope, at.getTime()])),
    rateLimit: stored.rateLimit === null ? null : Object.freeze({ ...stored.rateLimit }),
  });
  return {
    keyId: stored.id,
    principal,
    refusedFromMs: stored.revokedAt !== null ? -Infinity : earliest(stored.expiresAt, stored.graceEndsAt),
    loadedAt,
    canary: stored.canary ? Object.freeze({ type: 'canary' as const, keyId: stored.id, accountId: stored.accountId }) : null,
    retiresPrevious: stored.retiresPrevious === null ? null : { digest: stored.retiresPrevious.digest, untilMs: stored.retiresPrevious.until.getTime() },
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

/**
 * What the cache answered since start, for GET /metrics: a hit (a known key, no database read), a hit on a
 * key known to match nothing, and a miss (the caller goes on to the digest filter and the database). Plain
 * counts, read at scrape time: counting costs a request one increment, whether metrics are on or not.
 */
export interface KeyCacheCounts {
  hits: number;
  unknownHits: number;
  misses: number;
}

interface UnknownEntry {
  /** Monotonic ms of the database read that found nothing. */
  at: number;
  /** The HMAC digest that was looked for: a change feed names new keys by it. */
  digest: string;
}

export class KeyCache {
  /** Lookup key → entry. */
  readonly #known: LruMap<string, CachedKey>;
  /** Lookup key → a read that matched no key. */
  readonly #unknown: LruMap<string, UnknownEntry>;
  /** Digest → lookup key, for the entries of #unknown (the change feed speaks in digests). */
  readonly #unknownByDigest = new Map<string, string>();
  /** Key id → the lookup keys its cached entries sit under (the current secret, a rolled one in grace). */
  readonly #lookupsOf = new Map<string, string[]>();
  readonly #inflight = new Map<string, { epoch: number; promise: Promise<CachedKey | null> }>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  #epoch = 0;
  #suspended = false;
  readonly #counts: KeyCacheCounts = { hits: 0, unknownHits: 0, misses: 0 };

  constructor(options: KeyCacheOptions) {
    const off = options.ttlMs <= 0;
    this.#known = new LruMap(off ? 0 : options.maxKeys, (lookup, entry) => this.#unindex(entry.keyId, lookup));
    this.#unknown = new LruMap(off ? 0 : options.maxUnknown, (_lookup, entry) => this.#unknownByDigest.delete(entry.digest));
    this.#ttlMs = options.ttlMs;
    this.#now = options.monotonicNow ?? (() => performance.now());
  }

  /** The cached answer for a lookup key: an entry, null for "matches no key", undefined for "ask the database". */
  get(lookup: string): CachedKey | null | undefined {
    const entry = this.#known.get(lookup);
    if (entry !== undefined) {
      if (this.#now() - entry.loadedAt < this.#ttlMs) {
        this.#counts.hits++;
        return entry;
      }
      this.#known.delete(lookup);
      this.#unindex(entry.keyId, lookup);
      this.#counts.misses++;
      return undefined;
    }
    const unknown = this.#unknown.get(lookup);
    if (unknown !== undefined) {
      if (this.#now() - unknown.at < this.#ttlMs) {
        this.#counts.unknownHits++;
        return null;
      }
      this.#dropUnknown(lookup);
    }
    this.#counts.misses++;
    return undefined;
  }

  /**
   * Reads the key stored under `digest` through `find`, with one database read at a time per key. A
   * request only joins a read begun in the current epoch, so nothing that arrives after an eviction gets
   * an answer read before it.
   */
  load(lookup: string, digest: string, find: (digest: string) => Promise<StoredKeyForAuth | null>): Promise<CachedKey | null> {
    const epoch = this.#epoch;
    const pending = this.#inflight.get(lookup);
    if (pending !== undefined && pending.epoch === epoch) return pending.promise;
    const startedAt = this.#now();
    const promise = find(digest)
      .then((stored) => {
        const entry = stored === null ? null : toCachedKey(stored, startedAt);
        if (epoch === this.#epoch && !this.#suspended) this.#store(lookup, digest, entry, startedAt);
        return entry;
      })
      .finally(() => {
        if (this.#inflight.get(lookup)?.promise === promise) this.#inflight.delete(lookup);
      });
    this.#inflight.set(lookup, { epoch, promise });
    return promise;
  }

  /** A key changed (revoked, rolled, expired early, scopes changed): drop every answer about it. */
  evictKey(keyId: string): void {
    this.#epoch++;
    const lookups = this.#lookupsOf.get(keyId);
    if (lookups === undefined) return;
    this.#lookupsOf.delete(keyId);
    for (const lookup of lookups) this.#known.delete(lookup);
  }

  /** A digest now belongs to a key (created, rolled): it may no longer be answered "unknown". */
  forgetUnknown(digest: string): void {
    this.#epoch++;
    const lookup = this.#unknownByDigest.get(digest);
    if (lookup !== undefined) this.#dropUnknown(lookup);
  }

  apply(change: KeyChange): void {
    this.evictKey(change.keyId);
    for (const digest of change.newDigests) this.forgetUnknown(digest);
  }

  clear(): void {
    this.#epoch++;
    this.#known.clear();
    this.#unknown.clear();
    this.#unknownByDigest.clear();
    this.#lookupsOf.clear();
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

  get counts(): Readonly<KeyCacheCounts> {
    return { ...this.#counts };
  }

  get size(): { known: number; unknown: number } {
    return { known: this.#known.size, unknown: this.#unknown.size };
  }

  #store(lookup: string, digest: string, entry: CachedKey | null, at: number): void {
    if (entry === null) {
      this.#dropUnknown(lookup);
      if (this.#unknown.capacity === 0) return;
      this.#unknown.set(lookup, { at, digest });
      this.#unknownByDigest.set(digest, lookup);
      return;
    }
    const previous = this.#known.delete(lookup);
    if (previous !== undefined) this.#unindex(previous.keyId, lookup);
    this.#known.set(lookup, entry);
    if (this.#known.capacity === 0) return;
    const lookups = this.#lookupsOf.get(entry.keyId);
    if (lookups === undefined) this.#lookupsOf.set(entry.keyId, [lookup]);
    else if (!lookups.includes(lookup)) lookups.push(lookup);
  }

  /** Removes a negative entry and its digest index entry. */
  #dropUnknown(lookup: string): void {
    const entry = this.#unknown.delete(lookup);
    if (entry !== undefined) this.#unknownByDigest.delete(entry.digest);
  }

  #unindex(keyId: string, lookup: string): void {
    const lookups = this.#lookupsOf.get(keyId);
    if (lookups === undefined) return;
    const rest = lookups.filter((l) => l !== lookup);
    if (rest.length === 0) this.#lookupsOf.delete(keyId);
    else this.#lookupsOf.set(keyId, rest);
  }
}
