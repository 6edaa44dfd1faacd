import { performance } from 'node:perf_hooks';

/** One request of a load loop: when it was sent (before fetch was called) and what came back (0: no answer). */
export interface Sample {
  loop: string;
  sentAt: number;
  doneAt: number;
  status: number;
}

export interface LoadLoop {
  /** A label for the samples (e.g. "K@B"). */
  name: string;
  url: string;
  headers: Record<string, string>;
}

export interface RunningLoad {
  samples: Sample[];
  /** Stops every loop after its current request and returns all samples. */
  stop(): Promise<Sample[]>;
}

/** Milliseconds on one monotonic clock shared by the driver and the assertions. */
export const now = (): number => performance.now();

/**
 * Keeps `loops` busy, each sending its next request as soon as the previous one is answered, bounded
 * in both count (per loop) and time so a broken server cannot hang the test.
 */
export function startLoad(loops: LoadLoop[], bounds: { maxRequestsPerLoop: number; maxMs: number }): RunningLoad {
  const samples: Sample[] = [];
  const deadline = now() + bounds.maxMs;
  let stopped = false;
  const runs = loops.map(async (loop) => {
    for (let i = 0; i < bounds.maxRequestsPerLoop && !stopped && now() < deadline; i++) {
      const sentAt = now();
      let status: number;
      try {
        const response = await fetch(loop.url, { headers: loop.headers });
        await response.arrayBuffer();
        status = response.status;
      } catch {
        status = 0;
      }
      samples.push({ loop: loop.name, sentAt, doneAt: now(), status });
    }
  });
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all(runs);
      return samples;
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const is2xx = (sample: Sample): boolean => sample.status >= 200 && sample.status < 300;

/** Summary of one loop name's samples relative to an instant `t` (e.g. when a revoke response arrived). */
export function around(samples: Sample[], loop: string, t: number) {
  const mine = samples.filter((sample) => sample.loop === loop);
  const before = mine.filter((sample) => sample.sentAt <= t);
  const after = mine.filter((sample) => sample.sentAt > t);
  const okAfter = after.filter(is2xx);
  return {
    total: mine.length,
    before,
    after,
    okBefore: before.filter(is2xx).length,
    okAfter,
    /** How long after `t` the last accepted request was sent (0 when none was). */
    lagMs: okAfter.reduce((max, sample) => Math.max(max, sample.sentAt - t), 0),
    statusesAfter: [...new Set(after.map((sample) => sample.status))].sort(),
  };
}
