import { describe, expect, it } from 'vitest';
import { decodeKeyChange, encodeKeyChange, KeyCache, toCachedKey, type StoredKeyForAuth } from './key-cache.js';

const DIGEST_A = 'a'.repeat(64);
const DIGEST_B = 'b'.repeat(64);
const DIGEST_C = 'c'.repeat(64);
/** The lookup key the authenticator would cache a digest's key under (any 1:1 name will do here). */
const lk = (digest: string) => `lookup:${digest.slice(0, 8)}`;

function stored(id: string, extra: Partial<StoredKeyForAuth> = {}): StoredKeyForAuth {
  return { id, accountId: 'user_1', name: 'n', scopes: ['clusters:read'], createdBy: 'user_1', graceEndsAt: null, expiresAt: null, revokedAt: null, allowedIps: null, resources: null, scopeExpiresAt: null, rateLimit: null, canary: false, retiresPrevious: null, ...extra };
}

/** A cache on a hand-moved monotonic clock, and a lookup that can be held open. */
function setup(options: { maxKeys?: number; maxUnknown?: number; ttlMs?: number } = {}) {
  let t = 0;
  const cache = new KeyCache({ maxKeys: options.maxKeys ?? 10, maxUnknown: options.maxUnknown ?? 10, ttlMs: options.ttlMs ?? 10_000, monotonicNow: () => t });
  const rows = new Map<string, StoredKeyForAuth>();
  let reads = 0;
  const find = async (digest: string) => {
    reads++;
    return rows.get(digest) ?? null;
  };
  return { cache, rows, find, reads: () => reads, advance: (ms: number) => (t += ms) };
}

describe('toCachedKey', () => {
  it('refuses from the earliest of expiry and grace end, and at once when revoked; the principal is frozen', () => {
    const expiresAt = new Date(5000);
    const graceEndsAt = new Date(3000);
    expect(toCachedKey(stored('key_1', { expiresAt }), 0).refusedFromMs).toBe(5000);
    expect(toCachedKey(stored('key_1', { expiresAt, graceEndsAt }), 0).refusedFromMs).toBe(3000);
    expect(toCachedKey(stored('key_1'), 0).refusedFromMs).toBe(Infinity);
    expect(toCachedKey(stored('key_1', { revokedAt: new Date(9e15) }), 0).refusedFromMs).toBe(-Infinity);
    const entry = toCachedKey(stored('key_1'), 0);
    expect(Object.isFrozen(entry.principal)).toBe(true);
    expect(Object.isFrozen(entry.principal.scopes)).toBe(true);
    expect(entry.principal).toEqual({ type: 'api_key', keyId: 'key_1', keyName: 'n', accountId: 'user_1', scopes: ['clusters:read'], userId: 'user_1', allowedIps: null, resources: null, scopeLapses: null, rateLimit: null });
  });
});

describe('toCachedKey: canary and retire on first use', () => {
  it('a canary carries its trip (built once, frozen); a pending retire its digest and the end of the grace', () => {
    const canary = toCachedKey(stored('key_1', { canary: true }), 0);
    expect(canary.canary).toEqual({ type: 'canary', keyId: 'key_1', accountId: 'user_1' });
    expect(Object.isFrozen(canary.canary)).toBe(true);
    expect(toCachedKey(stored('key_1'), 0).canary).toBeNull();
    const rolled = toCachedKey(stored('key_1', { retiresPrevious: { digest: DIGEST_A, until: new Date(7000) } }), 0);
    expect(rolled.retiresPrevious).toEqual({ digest: DIGEST_A, untilMs: 7000 });
    expect(toCachedKey(stored('key_1'), 0).retiresPrevious).toBeNull();
  });
});

describe('KeyCache', () => {
  it('counts hits, hits on unknown keys and misses (an expired entry is a miss)', async () => {
    const { cache, rows, find, advance } = setup({ ttlMs: 1000 });
    rows.set(DIGEST_A, stored('key_1'));
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    await cache.load(lk(DIGEST_A), DIGEST_A, find);
    await cache.load(lk(DIGEST_B), DIGEST_B, find);
    expect(cache.get(lk(DIGEST_A))?.keyId).toBe('key_1');
    expect(cache.get(lk(DIGEST_A))?.keyId).toBe('key_1');
    expect(cache.get(lk(DIGEST_B))).toBeNull();
    expect(cache.counts).toEqual({ hits: 2, unknownHits: 1, misses: 1 });
    advance(1000);
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    expect(cache.get(lk(DIGEST_B))).toBeUndefined();
    expect(cache.counts).toEqual({ hits: 2, unknownHits: 1, misses: 3 });
  });

  it('answers known and unknown digests from memory until the TTL, then reads again', async () => {
    const { cache, rows, find, reads, advance } = setup();
    rows.set(DIGEST_A, stored('key_1'));
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    expect((await cache.load(lk(DIGEST_A), DIGEST_A, find))?.keyId).toBe('key_1');
    expect(await cache.load(lk(DIGEST_B), DIGEST_B, find)).toBeNull();
    expect(cache.get(lk(DIGEST_A))?.keyId).toBe('key_1');
    expect(cache.get(lk(DIGEST_B))).toBeNull();
    expect(reads()).toBe(2);
    advance(10_000);
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    expect(cache.get(lk(DIGEST_B))).toBeUndefined();
  });

  it('concurrent misses share one read', async () => {
    const { cache, rows, find, reads } = setup();
    rows.set(DIGEST_A, stored('key_1'));
    const answers = await Promise.all([cache.load(lk(DIGEST_A), DIGEST_A, find), cache.load(lk(DIGEST_A), DIGEST_A, find), cache.load(lk(DIGEST_A), DIGEST_A, find)]);
    expect(answers.map((a) => a?.keyId)).toEqual(['key_1', 'key_1', 'key_1']);
    expect(reads()).toBe(1);
  });

  it('a read begun before an eviction is neither stored nor joined by later requests', async () => {
    const { cache } = setup();
    let release!: (row: StoredKeyForAuth | null) => void;
    const slow = () => new Promise<StoredKeyForAuth | null>((resolve) => (release = resolve));
    const before = cache.load(lk(DIGEST_A), DIGEST_A, slow);
    cache.evictKey('key_1'); // the revoke committed while the read was in flight
    let laterReads = 0;
    const later = cache.load(lk(DIGEST_A), DIGEST_A, async () => {
      laterReads++;
      return stored('key_1', { revokedAt: new Date(1) });
    });
    release(stored('key_1'));
    expect((await before)?.refusedFromMs).toBe(Infinity); // the request already in flight
    expect((await later)?.refusedFromMs).toBe(-Infinity);
    expect(laterReads).toBe(1);
    expect(cache.get(lk(DIGEST_A))?.refusedFromMs).toBe(-Infinity);
  });

  it('evicting a key drops all its digests (current and rolled-away), and only its own', async () => {
    const { cache, rows, find } = setup();
    rows.set(DIGEST_A, stored('key_1'));
    rows.set(DIGEST_B, stored('key_1', { graceEndsAt: new Date(1000) }));
    rows.set(DIGEST_C, stored('key_2'));
    for (const digest of [DIGEST_A, DIGEST_B, DIGEST_C]) await cache.load(lk(digest), digest, find);
    cache.apply({ keyId: 'key_1', newDigests: [] });
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    expect(cache.get(lk(DIGEST_B))).toBeUndefined();
    expect(cache.get(lk(DIGEST_C))?.keyId).toBe('key_2');
  });

  it('a digest that now exists is forgotten by the negative cache', async () => {
    const { cache, rows, find } = setup();
    expect(await cache.load(lk(DIGEST_A), DIGEST_A, find)).toBeNull();
    rows.set(DIGEST_A, stored('key_1'));
    cache.apply({ keyId: 'key_1', newDigests: [DIGEST_A] });
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    expect((await cache.load(lk(DIGEST_A), DIGEST_A, find))?.keyId).toBe('key_1');
  });

  it('the negative cache is bounded too, and a creation still reaches the entries it kept', async () => {
    const { cache, rows, find, reads } = setup({ maxUnknown: 2 });
    for (const digest of [DIGEST_A, DIGEST_B, DIGEST_C]) expect(await cache.load(lk(digest), digest, find)).toBeNull();
    expect(cache.size.unknown).toBe(2);
    expect(cache.get(lk(DIGEST_A))).toBeUndefined(); // dropped first
    expect(cache.get(lk(DIGEST_B))).toBeNull();
    rows.set(DIGEST_C, stored('key_3'));
    cache.forgetUnknown(DIGEST_A); // names an entry already dropped: nothing else goes
    expect(cache.get(lk(DIGEST_C))).toBeNull();
    cache.forgetUnknown(DIGEST_C);
    expect(cache.get(lk(DIGEST_C))).toBeUndefined();
    expect(cache.get(lk(DIGEST_B))).toBeNull();
    expect((await cache.load(lk(DIGEST_C), DIGEST_C, find))?.keyId).toBe('key_3');
    expect(reads()).toBe(4);
  });

  it('is bounded: the least recently used key goes first, and its index with it', async () => {
    const { cache, rows, find } = setup({ maxKeys: 2 });
    rows.set(DIGEST_A, stored('key_1'));
    rows.set(DIGEST_B, stored('key_2'));
    rows.set(DIGEST_C, stored('key_3'));
    await cache.load(lk(DIGEST_A), DIGEST_A, find);
    await cache.load(lk(DIGEST_B), DIGEST_B, find);
    cache.get(lk(DIGEST_A));
    await cache.load(lk(DIGEST_C), DIGEST_C, find);
    expect(cache.size.known).toBe(2);
    expect(cache.get(lk(DIGEST_B))).toBeUndefined();
    expect(cache.get(lk(DIGEST_A))?.keyId).toBe('key_1');
  });

  it('suspended, it stores and answers nothing; resumed, it starts empty', async () => {
    const { cache, rows, find, reads } = setup();
    rows.set(DIGEST_A, stored('key_1'));
    await cache.load(lk(DIGEST_A), DIGEST_A, find);
    cache.suspend();
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    await cache.load(lk(DIGEST_A), DIGEST_A, find);
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    cache.resume();
    expect(cache.get(lk(DIGEST_A))).toBeUndefined();
    await cache.load(lk(DIGEST_A), DIGEST_A, find);
    expect(cache.get(lk(DIGEST_A))?.keyId).toBe('key_1');
    expect(reads()).toBe(3);
  });

  it('TTL 0 turns caching off', async () => {
    const { cache, rows, find, reads } = setup({ ttlMs: 0 });
    rows.set(DIGEST_A, stored('key_1'));
    await cache.load(lk(DIGEST_A), DIGEST_A, find);
    await cache.load(lk(DIGEST_B), DIGEST_B, find);
    expect([cache.get(lk(DIGEST_A)), cache.get(lk(DIGEST_B)), reads()]).toEqual([undefined, undefined, 2]);
  });
});

describe('key change payloads', () => {
  it('round-trip, and anything else is not read as a change', () => {
    const change = { keyId: 'key_00Vc8cb5yrWXCIMA6LRNAJpQn', newDigests: [DIGEST_A] };
    expect(decodeKeyChange(encodeKeyChange(change))).toEqual(change);
    expect(decodeKeyChange('key_1')).toEqual({ keyId: 'key_1', newDigests: [] });
    for (const payload of ['', 'cls_1', 'key_1 nothex', `key_1  ${DIGEST_A}`, 'key_1;drop']) expect(decodeKeyChange(payload)).toBeNull();
  });
});
