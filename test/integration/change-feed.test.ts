import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { BARRIER_MARK, createChangeFeed, type ChangeFeed } from '../../src/db/notifications.js';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';

const CHANNEL = 'skaledata_feed_test';
const silent = { warn: () => undefined, info: () => undefined } as unknown as Parameters<ChangeFeed['start']>[0];

/**
 * The change feed's barrier (issue 14): once `barrier()` resolves true, every payload committed before it
 * was called has been handed to onMessage. The key store believes its digest filter's "no" only after one.
 */
describe(`the change feed's barrier (${TEST_DIALECT})`, () => {
  let scratch: ScratchDatabase;
  let handle: DatabaseHandle;
  let feed: ChangeFeed;
  let writer: pg.Client | null = null;
  let watcher: pg.Client | null = null;
  const heard: string[] = [];
  const markers: string[] = [];

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    const database = parseDatabaseUrl(scratch.url);
    handle = openDatabase(database);
    feed = createChangeFeed(database, handle, CHANNEL, { onMessage: (payload) => heard.push(payload), onSuspend: () => undefined, onReset: () => undefined });
    await feed.start(silent);
    if (TEST_DIALECT === 'postgres') {
      // Another instance's connection, and an onlooker counting the markers on the wire.
      writer = new pg.Client({ connectionString: scratch.url });
      await writer.connect();
      watcher = new pg.Client({ connectionString: scratch.url });
      await watcher.connect();
      watcher.on('notification', (message) => {
        if (message.payload?.startsWith(BARRIER_MARK)) markers.push(message.payload);
      });
      await watcher.query(`LISTEN ${CHANNEL}`);
    }
  });

  afterAll(async () => {
    await feed?.stop();
    await writer?.end();
    await watcher?.end();
    await handle?.close();
    await scratch?.drop();
  });

  /** The onlooker's marker count once it has stayed the same for 200 ms. */
  async function settledCount(): Promise<number> {
    let last = -1;
    while (markers.length !== last) {
      last = markers.length;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return last;
  }

  it('refuses to publish a payload shaped like its own markers', async () => {
    await expect(handle.db.transaction().execute((trx) => feed.publish(trx, `${BARRIER_MARK}x 1`))).rejects.toThrow(/may not start/);
  });

  it.skipIf(TEST_DIALECT !== 'postgres')('has heard every payload committed before it, each of 200 times, and never hands a marker to onMessage', async () => {
    for (let i = 0; i < 200; i++) {
      await writer!.query('select pg_notify($1, $2)', [CHANNEL, `change-${i}`]);
      // Committed (autocommit) before the call: the barrier must not resolve before it is heard.
      expect(await feed.barrier()).toBe(true);
      expect(heard.at(-1), `change ${i}`).toBe(`change-${i}`);
    }
    expect(heard.filter((payload) => payload.startsWith(BARRIER_MARK))).toEqual([]);
  });

  it.skipIf(TEST_DIALECT !== 'postgres')('lets callers waiting together share markers: 100 at once take at most 2', async () => {
    // The onlooker may still be receiving earlier markers: count from when it has heard them all.
    expect(await feed.barrier()).toBe(true);
    const before = await settledCount();
    const answers = await Promise.all(Array.from({ length: 100 }, () => feed.barrier()));
    expect(answers.every(Boolean)).toBe(true);
    // The first caller's marker goes out at once; the other 99 came after it was sent and share the next.
    const sent = (await settledCount()) - before;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(2);
  });

  it.skipIf(TEST_DIALECT !== 'sqlite')('is true at once on SQLite, where this process is the only writer', async () => {
    expect(await feed.barrier()).toBe(true);
  });

  it('answers false once the feed has stopped (nothing is heard any more)', async () => {
    const other = createChangeFeed(parseDatabaseUrl(scratch.url), handle, CHANNEL, { onMessage: () => undefined, onSuspend: () => undefined, onReset: () => undefined });
    await other.start(silent);
    await other.stop();
    expect(await other.barrier()).toBe(TEST_DIALECT === 'sqlite');
  });
});
