import { performance } from 'node:perf_hooks';

/**
 * A Bloom filter over the digests of every stored API key, so a well-formed key that matches nothing is
 * refused without a database read: a flood of invented keys with valid checksums (each one new, so the
 * negative cache never sees it twice) costs a hash and seven bit tests, not a query.
 *
 * It answers "certainly not stored" or "maybe": a "maybe" (a false positive, ~1% at worst; or any answer
 * before the filter has loaded) goes to the database as before. "Certainly not" is exact only while every
 * key written to the table passes through `add` before it is trusted to be absent. The key store
 * (modules/api-keys/api-key-store.ts) adds its own keys right after the commit that stores them, before
 * the key is shown to anyone; keys stored by other instances (PostgreSQL) arrive on its change feed, and
 * since one may be presented before its notification, a "certainly not" there is believed only after the
 * feed has heard everything committed before the request. Whenever changes may have gone unheard (the
 * LISTEN connection was down; on SQLite, another process wrote to the file, noticed by the data_version
 * poll within 100 ms) `markStale` makes every answer "maybe" until a refill. A fill runs while changes
 * are heard: a key committed during it is either in the rows it reads or added by its notification.
 */

/** Bits per expected key: with 7 probes, about 1% false positives when full, far fewer below. */
const BITS_PER_KEY = 10;
const PROBES = 7;
const MIN_KEYS = 65_536;

class BloomFilter {
  readonly capacity: number;
  readonly #words: Uint32Array;
  readonly #mask: number;
  #count = 0;

  constructor(expectedKeys: number) {
    this.capacity = Math.max(MIN_KEYS, expectedKeys);
    // A power of two, so a probe is a mask rather than a division.
    const bits = 2 ** Math.ceil(Math.log2(this.capacity * BITS_PER_KEY));
    this.#words = new Uint32Array(bits / 32);
    this.#mask = bits - 1;
  }

  get count(): number {
    return this.#count;
  }

  add(digest: string): void {
    // Heard twice (this instance's own keys also come back on the change feed): counted once.
    if (this.has(digest)) return;
    for (let i = 0; i < PROBES; i++) {
      const bit = probe(digest, i) & this.#mask;
      this.#words[bit >>> 5]! |= 1 << (bit & 31);
    }
    this.#count++;
  }

  has(digest: string): boolean {
    for (let i = 0; i < PROBES; i++) {
      const bit = probe(digest, i) & this.#mask;
      if ((this.#words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** The i-th 32 bits of a hex digest: HMAC output is uniform, so its slices are independent probes. */
function probe(digest: string, i: number): number {
  return Number.parseInt(digest.slice(i * 8, i * 8 + 8), 16) >>> 0;
}

const DIGEST = /^[0-9a-f]{64}$/;

export interface KnownDigestsSource {
  /** How many digests are stored (current and rolled-away secrets), to size the filter. */
  count(): Promise<number>;
  /** Calls `each` for every stored digest; may yield between pages. */
  scan(each: (digest: string) => void): Promise<void>;
}

/** After a failed or discarded fill, the next one starts at most this long after the last began. */
const REFILL_INTERVAL_MS = 5_000;

export class KnownDigests {
  readonly #source: KnownDigestsSource;
  readonly #now: () => number;
  /** null until filled (and while stale): every digest may exist. */
  #filter: BloomFilter | null = null;
  /** A filter being filled from the database; digests added meanwhile go into it too. */
  #building: BloomFilter | null = null;
  #loading: Promise<void> | null = null;
  /** Marked stale while a fill ran: what it read may predate the foreign write, so it is not used. */
  #staleDuringFill = false;
  #lastFillStart = -Infinity;

  /** `now`: monotonic ms, for spacing refills. */
  constructor(source: KnownDigestsSource, now: () => number = () => performance.now()) {
    this.#source = source;
    this.#now = now;
  }

  get loaded(): boolean {
    return this.#filter !== null;
  }

  /** False only for a digest that is certainly not stored. */
  mightExist(digest: string): boolean {
    if (this.#filter === null) {
      if (this.#loading === null && this.#now() - this.#lastFillStart >= REFILL_INTERVAL_MS) void this.load().catch(() => undefined);
      return true;
    }
    return !DIGEST.test(digest) || this.#filter.has(digest);
  }

  /** Another process may have written keys: answer "maybe" until the filter has been filled again. */
  markStale(): void {
    this.#filter = null;
    if (this.#loading !== null) this.#staleDuringFill = true;
  }

  /** A digest now stored: call after its commit and before the key can be presented. */
  add(digest: string): void {
    this.#building?.add(digest);
    if (this.#filter === null) return;
    this.#filter.add(digest);
    // Fuller than sized for, the false positives climb: size a new one from the table, in the background.
    if (this.#filter.count > this.#filter.capacity) void this.load().catch(() => undefined);
  }

  /** Fills a filter from the database and swaps it in; concurrent calls share one load. */
  load(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = null;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    // Twice the keys there are now, so the table can double before the next reload.
    this.#lastFillStart = this.#now();
    this.#staleDuringFill = false;
    const building = new BloomFilter(2 * (await this.#source.count()));
    this.#building = building;
    try {
      await this.#source.scan((digest) => building.add(digest));
      if (!this.#staleDuringFill) this.#filter = building;
    } finally {
      this.#building = null;
    }
  }
}
