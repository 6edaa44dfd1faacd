import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import type { DatabaseHandle, Db } from './database.js';

/**
 * Tells every server instance that rows they may have cached changed, so in-process caches stay
 * exact. PostgreSQL: NOTIFY in the writer's transaction (delivered on commit, never on rollback) and
 * a dedicated LISTEN connection per instance. Notifications sent while that connection is down are
 * lost (PG-NOTIFY), so the feed reports the loss at once (the caches stop trusting themselves) and
 * asks for a full reset when it listens again; a heartbeat catches connections that die silently.
 * SQLite: one process owns the file, so a writer evicts locally; in case another connection writes to
 * the same file anyway (a second process started by mistake), `PRAGMA data_version` is polled, which
 * changes only on commits by *other* connections, and any change resets the caches.
 */
export interface ChangeFeedHandlers {
  /** A payload published by any instance (this one included), after its commit. */
  onMessage(payload: string): void;
  /** From now on changes may go unseen: stop trusting and filling caches. */
  onSuspend(): void;
  /** Changes are seen again; whatever was cached before may be stale: start from empty. */
  onReset(): void;
}

export interface ChangeFeed {
  /** Publishes in the caller's transaction (`trx`): others hear it only if and when it commits. */
  publish(trx: Db, payload: string): Promise<void>;
  /** Starts listening; resolves once listening (or, on failure, once retries are scheduled). */
  start(log: FastifyBaseLogger): Promise<void>;
  /** Stops listening; the caches are suspended, since changes are no longer seen. */
  stop(): Promise<void>;
}

export interface ChangeFeedOptions {
  /** PostgreSQL reconnect backoff: first delay and cap (ms); the delay doubles with jitter. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** PostgreSQL: how often the LISTEN connection is probed, and how long a probe may take (ms). */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** SQLite: how often `PRAGMA data_version` is read (ms). */
  pollMs?: number;
}

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The `application_name` of an instance's LISTEN connection (operators and tests find it by this). */
export function listenerApplicationName(pid = process.pid): string {
  return `skaledata-listen-${pid}`;
}

export function createChangeFeed(
  database: Config['database'],
  handle: Pick<DatabaseHandle, 'commitsElsewhere'>,
  channel: string,
  handlers: ChangeFeedHandlers,
  options: ChangeFeedOptions = {},
): ChangeFeed {
  // LISTEN takes an identifier, not a parameter: only plain lower-case names are accepted.
  if (!CHANNEL_NAME.test(channel)) throw new Error(`invalid notification channel name: ${channel}`);
  return database.kind === 'postgres'
    ? createPostgresFeed(database.url, channel, handlers, options)
    : createSqliteFeed(handle.commitsElsewhere, handlers, options);
}

function createPostgresFeed(url: string, channel: string, handlers: ChangeFeedHandlers, options: ChangeFeedOptions): ChangeFeed {
  const reconnectMinMs = options.reconnectMinMs ?? 100;
  const reconnectMaxMs = options.reconnectMaxMs ?? 5000;
  const heartbeatMs = options.heartbeatMs ?? 2000;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 2000;
  let log: FastifyBaseLogger | null = null;
  let client: pg.Client | null = null;
  let stopped = false;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let heartbeatTimer: NodeJS.Timeout | null = null;

  function lost(from: pg.Client, error?: unknown): void {
    from.removeAllListeners('notification');
    from.end().catch(() => undefined);
    if (client !== from) return; // already handled, or stopped
    client = null;
    if (heartbeatTimer !== null) clearInterval(heartbeatTimer);
    heartbeatTimer = null;
    handlers.onSuspend();
    if (stopped) return;
    const delay = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** failures) * (0.5 + Math.random() / 2);
    failures = Math.min(failures + 1, 16);
    log?.warn({ channel, retry_in_ms: Math.round(delay), reason: error instanceof Error ? error.message : 'connection ended' }, 'change feed: LISTEN connection lost; caches suspended');
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      void connect();
    }, delay);
    reconnectTimer.unref();
  }

  function heartbeat(from: pg.Client): void {
    let answered = false;
    const timeout = setTimeout(() => {
      if (!answered) lost(from, new Error(`heartbeat unanswered after ${heartbeatTimeoutMs} ms`));
    }, heartbeatTimeoutMs);
    timeout.unref();
    from.query('SELECT 1').then(
      () => {
        answered = true;
        clearTimeout(timeout);
      },
      (error: unknown) => {
        answered = true;
        clearTimeout(timeout);
        lost(from, error);
      },
    );
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    const next = new pg.Client({
      connectionString: url,
      application_name: listenerApplicationName(),
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    });
    // Without an 'error' listener a dropped connection would crash the process.
    next.on('error', (error) => lost(next, error));
    next.on('end', () => lost(next));
    next.on('notification', (message) => {
      if (message.channel === channel && message.payload !== undefined) handlers.onMessage(message.payload);
    });
    client = next;
    try {
      await next.connect();
      await next.query(`LISTEN ${channel}`);
    } catch (error) {
      lost(next, error);
      return;
    }
    if (client !== next) {
      // Stopped (or replaced) while connecting.
      lost(next);
      return;
    }
    // Only now are changes seen again; anything cached before may have missed some.
    handlers.onReset();
    if (failures > 0) log?.info({ channel }, 'change feed: listening again; caches flushed');
    failures = 0;
    heartbeatTimer = setInterval(() => heartbeat(next), heartbeatMs);
    heartbeatTimer.unref();
  }

  return {
    async publish(trx, payload) {
      await sql`select pg_notify(${channel}, ${payload})`.execute(trx);
    },
    async start(logger) {
      log = logger;
      stopped = false;
      handlers.onSuspend();
      await connect();
    },
    async stop() {
      stopped = true;
      if (reconnectTimer !== null) clearTimeout(reconnectTimer);
      if (heartbeatTimer !== null) clearInterval(heartbeatTimer);
      reconnectTimer = heartbeatTimer = null;
      const current = client;
      client = null;
      handlers.onSuspend();
      if (current !== null) await current.end().catch(() => undefined);
    },
  };
}

function createSqliteFeed(commitsElsewhere: (() => number) | undefined, handlers: ChangeFeedHandlers, options: ChangeFeedOptions): ChangeFeed {
  if (commitsElsewhere === undefined) throw new Error('a SQLite change feed needs the database handle of a SQLite file');
  const readVersion = commitsElsewhere;
  const pollMs = options.pollMs ?? 100;
  let timer: NodeJS.Timeout | null = null;
  let seen: number | null = null;

  function poll(): void {
    try {
      const version = readVersion();
      if (version !== seen) {
        seen = version;
        handlers.onReset();
      }
    } catch {
      // Closing: the next poll tries again; local writers evict on their own.
    }
  }

  return {
    publish: async () => undefined,
    async start() {
      handlers.onSuspend();
      seen = readVersion();
      handlers.onReset();
      timer = setInterval(poll, pollMs);
      timer.unref();
    },
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      handlers.onSuspend();
    },
  };
}
