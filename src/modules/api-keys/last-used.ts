/** How often at most `last_used_at` is written for one key: reads are frequent, this column is a hint. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;
/** Uses noted within this delay are written together, in one statement. */
export const LAST_USED_FLUSH_DELAY_MS = 500;
/** Above this many remembered keys, entries older than the interval are dropped at each flush. */
const LAST_WRITTEN_PRUNE_AT = 10_000;

export type LastUses = ReadonlyArray<readonly [keyId: string, at: string]>;

/**
 * `last_used_at`, written behind the requests: a use is noted in memory (no I/O on the request path),
 * written at most once per LAST_USED_WRITE_INTERVAL_MS per key, and the uses noted within
 * LAST_USED_FLUSH_DELAY_MS go to the database together. A failed write only loses a usage hint.
 */
export class LastUsedWriter {
  readonly #write: (uses: LastUses) => Promise<void>;
  /** Key id → when its use was last queued for writing (the app's clock, ms). */
  readonly #lastWritten = new Map<string, number>();
  readonly #pending = new Map<string, string>();
  #latestUse = 0;
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();

  constructor(write: (uses: LastUses) => Promise<void>) {
    this.#write = write;
  }

  note(keyId: string, atMs: number): void {
    const last = this.#lastWritten.get(keyId);
    if (last !== undefined && atMs - last < LAST_USED_WRITE_INTERVAL_MS) return;
    this.#lastWritten.set(keyId, atMs);
    if (atMs > this.#latestUse) this.#latestUse = atMs;
    this.#pending.set(keyId, new Date(atMs).toISOString());
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#flushing = this.#flushing.then(() => this.#writePending()).catch(() => undefined);
    }, LAST_USED_FLUSH_DELAY_MS);
    this.#timer.unref();
  }

  /** Writes every use noted so far (shutdown calls this). */
  async flush(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#flushing;
    await this.#writePending();
  }

  async #writePending(): Promise<void> {
    if (this.#pending.size === 0) return;
    const uses = [...this.#pending];
    this.#pending.clear();
    await this.#write(uses);
    if (this.#lastWritten.size > LAST_WRITTEN_PRUNE_AT) {
      const cutoff = this.#latestUse - LAST_USED_WRITE_INTERVAL_MS;
      for (const [id, at] of this.#lastWritten) if (at < cutoff) this.#lastWritten.delete(id);
    }
  }
}
