import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { DatabaseHandle } from './database.js';
import { createChangeFeed, type ChangeFeedOptions } from './notifications.js';
import { ROWS_CHANNEL } from './watched-tables.js';

/**
 * How long after another instance commits a change to a watched table this instance may still serve a
 * page kept from before it: the time the notification takes to arrive (milliseconds on one network),
 * bounded by the tests at this value.
 */
export const OTHER_INSTANCES_BOUND_MS = 100;

export interface RowChanges {
  /**
   * A value that differs whenever a watched row may have changed since it was last read, read
   * synchronously before the rows are; undefined while changes may go unseen (keep nothing, serve nothing
   * kept).
   */
  stamp(): string | undefined;
  /** Starts hearing other instances' changes (onReady); until then the stamp is undefined on PostgreSQL. */
  start(log: FastifyBaseLogger): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The change stamp of the watched tables, on both databases.
 * - SQLite: the database's own stamp (DatabaseHandle.changeStamp): this process's writes at once, another
 *   connection's commits within OTHER_COMMITS_CHECK_MS.
 * - PostgreSQL: this process's writes to the watched tables (DatabaseHandle.writesHere: moved when such a
 *   write is answered and when it commits, so a writer's next read never meets a page from before it), the notifications
 *   heard from every instance, and the feed's epoch (a new LISTEN connection may have missed some: start
 *   afresh). While the LISTEN connection is down there is no stamp, and nothing kept is served: fail safe,
 *   as the key cache does.
 */
export function createRowChanges(
  database: Config['database'],
  handle: Pick<DatabaseHandle, 'changeStamp' | 'writesHere' | 'commitsElsewhere'>,
  options: ChangeFeedOptions = {},
): RowChanges {
  if (handle.changeStamp !== undefined) {
    return { stamp: handle.changeStamp, start: async () => undefined, stop: async () => undefined };
  }
  const writesHere = handle.writesHere;
  if (writesHere === undefined) throw new Error('a PostgreSQL database handle counts its writes (writesHere)');
  let heard = 0;
  let epoch = 0;
  let listening = false;
  const feed = createChangeFeed(
    database,
    handle,
    ROWS_CHANNEL,
    {
      onMessage: () => {
        heard++;
      },
      onSuspend: () => {
        listening = false;
      },
      onReset: () => {
        epoch++;
        listening = true;
      },
    },
    options,
  );
  return {
    stamp: () => (listening ? `${epoch}:${heard}:${writesHere()}` : undefined),
    start: (log) => feed.start(log),
    stop: () => feed.stop(),
  };
}
