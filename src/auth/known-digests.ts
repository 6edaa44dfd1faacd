import { performance } from 'node:perf_hooks';

/**
 * A Bloom filter over the digests of every stored API key, so a well-formed key that matches nothing is
 * refused without a database read: a flood of invented keys with valid checksums (each one new, so the
 * negative cache never sees it twice) costs a hash and seven bit tests, not a query.
 *
 * It answers "certainly not stored" or "maybe": a "maybe" (a false positive, ~1% at worst; or any answer
 * before the filter has loaded) goes to the database as before. "Certainly not" is exact only while every
 * key written to the table passes through `add` before it can be presented, which holds when one process
 * owns the database (SQLite, the embedded default): the repository adds a key's digests right after the
 * commit that stores them, before the key is shown to anyone. Should another process write to the same
 * file anyway, `foreignWrites` (SQLite's data_version, read on every "certainly not") shows it: the
 * filter answers "maybe" until it has been refilled. With several instances on one PostgreSQL database a
 * key created elsewhere may be presented here before its notification arrives, and nothing shows that
 * synchronously, so the filter is not used there (auth-runtime.ts).
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

/** After another process wrote to the database, refills start at most this often. */
const FOREIGN_RELOAD_INTERVAL_MS = 5_000;

export interface KnownDigestsOptions {
  /** Changes whenever another process commits to the database (see the class comment). */
  foreignWrites?: () => unknown;
  /** Monotonic ms, for spacing refills. */
  now?: () => number;
}

export class KnownDigests {
  readonly #source: KnownDigestsSource;
  readonly #foreignWrites: (() => unknown) | null;
  readonly #now: () => number;
  /** null until loaded (and after a failed load): every digest may exist. */
  #filter: BloomFilter | null = null;
  /** The foreign-write version the current filter's fill began at. */
  #filledAt: unknown = undefined;
  /** A filter being filled from the database; digests added meanwhile go into it too. */
  #building: BloomFilter | null = null;
  #loading: Promise<void> | null = null;
  #lastForeignReload = -Infinity;

  constructor(source: KnownDigestsSource, options: KnownDigestsOptions = {}) {
    this.#source = source;
    this.#foreignWrites = options.foreignWrites ?? null;
    this.#now = options.now ?? (() => performance.now());
  }

  get loaded(): boolean {
    return this.#filter !== null;
  }

  /** False only for a digest that is certainly not stored. */
  mightExist(digest: string): boolean {
    if (this.#filter === null || !DIGEST.test(digest)) return true;
    if (this.#filter.has(digest)) return true;
    if (this.#foreignWrites !== null && this.#foreignWrites() !== this.#filledAt) {
      // Someone else wrote since the fill began: keys may exist that were never added here.
      if (this.#now() - this.#lastForeignReload >= FOREIGN_RELOAD_INTERVAL_MS) {
        this.#lastForeignReload = this.#now();
        void this.load().catch(() => undefined);
      }
      return true;
    }
    return false;
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
    const version = this.#foreignWrites?.();
    const building = new BloomFilter(2 * (await this.#source.count()));
    this.#building = building;
    try {
      await this.#source.scan((digest) => building.add(digest));
      this.#filter = building;
      this.#filledAt = version;
    } finally {
      this.#building = null;
    }
  }
}
