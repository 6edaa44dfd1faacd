/**
 * A map with a fixed capacity that drops its least recently used entry when full. A JavaScript Map
 * keeps insertion order, so moving an entry to the end on every read makes the first one the oldest.
 * Capacity 0 stores nothing (the cache is off).
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(
    readonly capacity: number,
    /** Called for entries dropped to make room (not for delete or clear). */
    private readonly onDrop?: (key: K, value: V) => void,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a whole number ≥ 0 (got ${capacity})`);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, marked as just used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.entries().next().value as [K, V];
      this.#entries.delete(oldest[0]);
      this.onDrop?.(oldest[0], oldest[1]);
    }
  }

  delete(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) this.#entries.delete(key);
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}
