import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KnownDigests, type KnownDigestsSource } from './known-digests.js';

const digest = () => createHmac('sha256', 'pepper').update(randomBytes(24)).digest('hex');

/** A table of digests; `gate` holds the scan open after its first digest until released. */
function source(stored: string[], options: { gate?: Promise<void>; fail?: boolean } = {}): KnownDigestsSource & { scans: number } {
  const src = {
    scans: 0,
    count: async () => stored.length,
    scan: async (each: (d: string) => void) => {
      src.scans++;
      if (options.fail) throw new Error('database gone');
      for (const [i, d] of stored.entries()) {
        each(d);
        if (i === 0 && options.gate) await options.gate;
      }
    },
  };
  return src;
}

describe('KnownDigests', () => {
  it('answers "maybe" for everything until loaded, then "certainly not" for digests never stored', async () => {
    const stored = Array.from({ length: 1000 }, digest);
    const known = new KnownDigests(source(stored));
    const stranger = digest();
    expect(known.mightExist(stranger)).toBe(true);
    await known.load();
    expect(known.loaded).toBe(true);
    expect(stored.every((d) => known.mightExist(d))).toBe(true);
    const strangers = Array.from({ length: 20_000 }, digest);
    const falsePositives = strangers.filter((d) => known.mightExist(d)).length;
    // Sized for at least 65,536 keys at 10 bits each: with 1,000 stored, false positives are rare.
    expect(falsePositives).toBeLessThan(20);
  });

  it('knows a digest added after loading, and one added while the table was being read', async () => {
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stored = Array.from({ length: 10 }, digest);
    const known = new KnownDigests(source(stored, { gate }));
    const loading = known.load();
    await new Promise((resolve) => setImmediate(resolve));
    const duringLoad = digest();
    known.add(duringLoad);
    release();
    await loading;
    const afterLoad = digest();
    expect(known.mightExist(afterLoad)).toBe(false);
    known.add(afterLoad);
    expect([known.mightExist(duringLoad), known.mightExist(afterLoad)]).toEqual([true, true]);
  });

  it('a failed load leaves every digest "maybe"; malformed digests are always "maybe"', async () => {
    const known = new KnownDigests(source([], { fail: true }));
    await expect(known.load()).rejects.toThrow('database gone');
    expect(known.loaded).toBe(false);
    expect(known.mightExist(digest())).toBe(true);
    const loaded = new KnownDigests(source([]));
    await loaded.load();
    expect(loaded.mightExist('not-a-digest')).toBe(true);
    expect(loaded.mightExist(digest().toUpperCase())).toBe(true);
  });

  it('reloads from the table, sized anew, once more digests were added than it was sized for', async () => {
    const stored: string[] = [];
    const src = source(stored);
    const known = new KnownDigests(src);
    await known.load();
    expect(src.scans).toBe(1);
    for (let i = 0; i <= 65_536; i++) {
      const d = digest();
      stored.push(d);
      known.add(d);
    }
    await known.load(); // joins the reload the last add started
    expect(src.scans).toBe(2);
    expect(stored.slice(-100).every((d) => known.mightExist(d))).toBe(true);
  });

  it('marked stale (another process wrote), answers "maybe" until refilled, refilling at most every 5 s', async () => {
    const stored = [digest()];
    const src = source(stored);
    let now = 0;
    const known = new KnownDigests(src, () => now);
    await known.load();
    const written = digest();
    expect(known.mightExist(written)).toBe(false);
    stored.push(written); // written by the other process: never passed through add()
    known.markStale();
    now = 6000;
    expect(known.mightExist(written)).toBe(true); // starts a refill
    expect(known.mightExist(digest())).toBe(true); // everything is "maybe" until it ends
    await known.load(); // joins it
    expect(src.scans).toBe(2);
    expect(known.mightExist(written)).toBe(true);
    expect(known.mightExist(digest())).toBe(false);

    // Marked stale while a fill runs: that fill may have read too early and is not used.
    let release = () => undefined as void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = new KnownDigests(source([digest(), digest()], { gate }), () => now);
    const filling = slow.load();
    slow.markStale();
    release();
    await filling;
    expect(slow.loaded).toBe(false);
    now = 7000; // within 5 s of that fill's start: no new fill yet
    expect(slow.mightExist(digest())).toBe(true);
    expect(slow.loaded).toBe(false);
  });
});
