interface Slot<V> {
  value: V;
  /** Read since it was stored or since it last reached the front of the queue. */
  used: boolean;
}

/**
 * A map with a fixed capacity that drops a least recently used entry when full, by the CLOCK ("second
 * chance") approximation of LRU: a read only marks its entry, and the entry to drop is found when
 * room is needed, by walking from the oldest: a marked entry loses its mark and goes to the back, the
 * first unmarked one is dropped. Reads are the hot path (every authenticated request reads a key or
 * session cache, every SQLite query the statement cache): moving an entry to the back of a JavaScript
 * Map on each of them cost a delete and an insert, several times a read's own cost. An entry read since
 * it last came round is never the one dropped; among the others, the oldest goes.
 * Capacity 0 stores nothing (the cache is off).
 */
export class LruMap<K, V> {
  readonly #entries = new Map<K, Slot<V>>();

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

  /** The value, marked as used. */
  get(key: K): V | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    const slot = this.#entries.get(key);
    if (slot !== undefined) {
      slot.value = value;
      slot.used = true;
      return;
    }
    // Room is made before the new entry goes in, so it is never the one dropped at its own arrival.
    if (this.#entries.size >= this.capacity) this.#dropOne();
    this.#entries.set(key, { value, used: false });
  }

  delete(key: K): V | undefined {
    const slot = this.#entries.get(key);
    if (slot === undefined) return undefined;
    this.#entries.delete(key);
    return slot.value;
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Ends: every marked entry passed is unmarked and moved back, so the walk meets an unmarked one. */
  #dropOne(): void {
    for (const [key, slot] of this.#entries) {
      this.#entries.delete(key);
      if (slot.used) {
        slot.used = false;
        this.#entries.set(key, slot);
        continue;
      }
      this.onDrop?.(key, slot.value);
      return;
    }
  }
}
