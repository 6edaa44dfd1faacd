import type { FastifyBaseLogger } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isWellFormedId } from '../../lib/ids.js';
import { activityIdFloor, DropOldestBuffer, KeyActivityRecorder, rollupId, SINGLES_PER_KEY_MINUTE, type ActivityRow } from './key-activity.js';

const event = (n: number) => ({
  keyId: 'key_1',
  kind: 'write' as const,
  method: 'POST',
  route: `/things/${n}`,
  status: 201,
  code: null,
  missingScope: null,
  clientIp: '192.0.2.1',
  userAgent: 'test',
});

function fakeLog() {
  const warn = vi.fn();
  return { warn, log: { warn } as unknown as FastifyBaseLogger };
}

describe('DropOldestBuffer', () => {
  it('holds at most its capacity, pushing out (and returning) the oldest', () => {
    const buffer = new DropOldestBuffer<number>(3);
    expect([1, 2, 3].map((n) => buffer.push(n))).toEqual([undefined, undefined, undefined]);
    expect(buffer.push(4)).toBe(1);
    expect(buffer.push(5)).toBe(2);
    expect(buffer.size).toBe(3);
    expect(buffer.take(2)).toEqual([3, 4]);
    buffer.push(6);
    expect(buffer.take(10)).toEqual([5, 6]);
    expect(buffer.size).toBe(0);
    expect(() => new DropOldestBuffer(0)).toThrow(RangeError);
  });
});

describe('KeyActivityRecorder', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('with a stalled database: one write in flight, memory bounded, the oldest dropped and counted, then logged', async () => {
    const writes: ActivityRow[][] = [];
    let release: () => void = () => undefined;
    const write = vi.fn((rows: readonly ActivityRow[]) => {
      writes.push([...rows]);
      // The first write never finishes until released: the database is stalled.
      return writes.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    });
    const recorder = new KeyActivityRecorder({ write, now: () => Date.now(), capacity: 100, flushIntervalMs: 10 });
    const { warn, log } = fakeLog();
    recorder.start(log);

    for (let n = 0; n < 50; n++) recorder.record(event(n));
    await vi.advanceTimersByTimeAsync(10);
    expect(write).toHaveBeenCalledTimes(1);
    expect(writes[0]).toHaveLength(50);

    // While that write hangs, 1,000 more requests: the buffer keeps the newest 100 and counts the rest.
    for (let n = 50; n < 1050; n++) recorder.record(event(n));
    expect(recorder.pending).toBe(100);
    expect(recorder.dropped).toBe(900);
    await vi.advanceTimersByTimeAsync(1000);
    expect(write).toHaveBeenCalledTimes(1);

    release();
    await recorder.flush();
    expect(write).toHaveBeenCalledTimes(2);
    expect(writes[1]?.map((row) => row.route)).toEqual(Array.from({ length: 100 }, (_, i) => `/things/${950 + i}`));
    expect(recorder.pending).toBe(0);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ dropped: 900 }), expect.stringContaining('oldest requests were not recorded'));
    await recorder.stop();
  });

  it('a write that fails loses its batch (counted), and the next batch is written', async () => {
    let fail = true;
    const written: ActivityRow[] = [];
    const write = vi.fn(async (rows: readonly ActivityRow[]) => {
      if (fail) throw new Error('database down');
      written.push(...rows);
    });
    const recorder = new KeyActivityRecorder({ write, now: () => Date.now(), capacity: 100, flushIntervalMs: 10 });
    const { warn, log } = fakeLog();
    recorder.start(log);
    for (let n = 0; n < 3; n++) recorder.record(event(n));
    await recorder.flush();
    expect(recorder.dropped).toBe(3);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ lost: 3 }), expect.any(String));
    fail = false;
    recorder.record(event(3));
    await recorder.flush();
    expect(written.map((row) => row.route)).toEqual(['/things/3']);
    await recorder.stop();
  });

  it('counts reads per key, minute, method, route and status; a written roll-up is continued in the same row id', async () => {
    let now = Date.parse('2026-12-04T10:00:10.000Z');
    const written: ActivityRow[] = [];
    const recorder = new KeyActivityRecorder({ write: async (rows) => void written.push(...rows.map((row) => ({ ...row }))), now: () => now, capacity: 100, flushIntervalMs: 1000 });
    for (let i = 0; i < 5; i++) recorder.countRead('key_1', 'GET', '/clusters', 200);
    recorder.countRead('key_1', 'GET', '/clusters', 404);
    recorder.countRead('key_2', 'GET', '/clusters', 200);
    now += 60_000;
    recorder.countRead('key_1', 'GET', '/clusters', 200);
    expect(recorder.pending).toBe(4);
    await recorder.flush();
    expect(written.map((row) => [row.key_id, row.at, row.status, row.count, row.kind])).toEqual([
      ['key_1', '2026-12-04T10:00:00.000Z', 200, 5, 'reads'],
      ['key_1', '2026-12-04T10:00:00.000Z', 404, 1, 'reads'],
      ['key_2', '2026-12-04T10:00:00.000Z', 200, 1, 'reads'],
      ['key_1', '2026-12-04T10:01:00.000Z', 200, 1, 'reads'],
    ]);
    recorder.countRead('key_1', 'GET', '/clusters', 200);
    await recorder.flush();
    expect(written[4]).toMatchObject({ id: written[3]?.id, count: 1 });
  });

  it('a flood of refusals: the first SINGLES_PER_KEY_MINUTE of a key minute are rows, the rest one roll-up per route and code', async () => {
    let now = Date.parse('2026-12-04T10:00:10.000Z');
    const written: ActivityRow[] = [];
    const recorder = new KeyActivityRecorder({ write: async (rows) => void written.push(...rows.map((row) => ({ ...row }))), now: () => now, capacity: 1000, flushIntervalMs: 1000 });
    const refusal = { keyId: 'key_1', kind: 'refused' as const, method: 'DELETE', route: '/clusters/{id}', status: 403, code: 'insufficient_scope', missingScope: 'clusters:write', clientIp: '192.0.2.1', userAgent: 'x' };
    for (let i = 0; i < SINGLES_PER_KEY_MINUTE + 50; i++) recorder.record(refusal);
    recorder.record({ ...refusal, keyId: 'key_2' });
    now += 60_000;
    recorder.record(refusal);
    await recorder.flush();
    const singles = written.filter((row) => row.key_id === 'key_1' && row.client_ip !== null);
    const rollups = written.filter((row) => row.client_ip === null);
    expect(singles).toHaveLength(SINGLES_PER_KEY_MINUTE + 1);
    expect(rollups.map((row) => [row.key_id, row.at, row.kind, row.code, row.missing_scope, row.count])).toEqual([
      ['key_1', '2026-12-04T10:00:00.000Z', 'refused', 'insufficient_scope', 'clusters:write', 50],
    ]);
    expect(written.filter((row) => row.key_id === 'key_2')).toHaveLength(1);
    expect(recorder.dropped).toBe(0);
  });

  it('a roll-up pushed out of a full buffer is forgotten with all its requests counted as dropped', () => {
    const recorder = new KeyActivityRecorder({ write: async () => undefined, now: () => 0, capacity: 2, flushIntervalMs: 1000 });
    for (let i = 0; i < 7; i++) recorder.countRead('key_1', 'GET', '/a', 200);
    recorder.record(event(1));
    recorder.record(event(2));
    expect(recorder.dropped).toBe(7);
    recorder.countRead('key_1', 'GET', '/a', 200);
    expect(recorder.dropped).toBe(8);
    expect(recorder.pending).toBe(2);
  });
});

describe('rollupId', () => {
  it('is a well-formed activity id, the same for the same bucket, ordered by minute', () => {
    const minute = Date.parse('2026-12-04T10:00:00.000Z');
    const id = rollupId(minute, 'key_1', 'GET', '/clusters', 200);
    expect(isWellFormedId(id)).toBe(true);
    expect(id).toBe(rollupId(minute, 'key_1', 'GET', '/clusters', 200));
    expect(id).not.toBe(rollupId(minute, 'key_1', 'GET', '/clusters', 404));
    expect(id >= activityIdFloor(minute)).toBe(true);
    expect(id < activityIdFloor(minute + 1)).toBe(true);
    expect(rollupId(minute + 60_000, 'key_1', 'GET', '/clusters', 200) > id).toBe(true);
  });
});

describe('KeyActivityRecorder.stop with the database down', () => {
  it('gives up after the first failed batch: the rest is dropped and counted, the shutdown is not held', async () => {
    const write = vi.fn(async () => {
      throw new Error('database down');
    });
    const recorder = new KeyActivityRecorder({ write, now: () => Date.now(), capacity: 100, flushIntervalMs: 1000, batchSize: 10 });
    const { warn, log } = fakeLog();
    recorder.start(log);
    for (let n = 0; n < 35; n++) recorder.record(event(n));
    await recorder.stop();
    expect(write).toHaveBeenCalledTimes(1);
    expect(recorder.dropped).toBe(35);
    expect(recorder.pending).toBe(0);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ dropped: 25 }), expect.any(String));
  });
});
