import { randomBytes } from 'node:crypto';
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
  /**
   * Publishes in the caller's transaction (`trx`): others hear it only if and when it commits. Payloads
   * starting with BARRIER_MARK are the feed's own and refused.
   */
  publish(trx: Db, payload: string): Promise<void>;
  /**
   * Resolves true once every payload committed (by any instance) before the call has been given to
   * `onMessage`; false when that cannot be promised (not listening, or no answer within the barrier
   * timeout). PostgreSQL delivers a channel's notifications in commit order, so the feed publishes a
   * marker of its own and waits to hear it back; callers waiting at the same time share one marker.
   * SQLite: true at once (this process is the only writer it has to hear).
   */
  barrier(): Promise<boolean>;
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
  /** PostgreSQL: how long a barrier waits for its marker before it answers false (ms). */
  barrierTimeoutMs?: number;
}

/**
 * How a LISTEN connection that died silently (a network cut: no FIN, no error) is found: a `SELECT 1` every
 * INTERVAL_MS, unanswered for TIMEOUT_MS. So an instance cut off from PostgreSQL trusts its caches for at
 * most INTERVAL_MS + TIMEOUT_MS after the cut.
 */
export const LISTEN_HEARTBEAT = { INTERVAL_MS: 2_000, TIMEOUT_MS: 2_000 } as const;

/** Payloads starting with this are the feed's own barrier markers, never handed to `onMessage`. */
export const BARRIER_MARK = '~barrier ';

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The `application_name` of an instance's LISTEN connection on `channel` (operators and tests find it by
 * this): `skaledata-listen-<pid>` for the API keys' feed, `skaledata-listen-<pid>-rows` for the rows' one.
 */
export function listenerApplicationName(channel: string, pid = process.pid): string {
  const feed = channel.replace(/^skaledata_/, '');
  return feed === 'api_keys' ? `skaledata-listen-${pid}` : `skaledata-listen-${pid}-${feed}`;
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

function refuseReserved(payload: string): void {
  if (payload.startsWith(BARRIER_MARK)) throw new Error(`change feed payloads may not start with "${BARRIER_MARK}"`);
}

/** Callers of `barrier` waiting on one marker. */
interface BarrierBatch {
  /** The marker's number once it is sent (0 while it waits for the one before it). */
  seq: number;
  waiters: Array<(caughtUp: boolean) => void>;
  timer: NodeJS.Timeout | null;
}

function createPostgresFeed(url: string, channel: string, handlers: ChangeFeedHandlers, options: ChangeFeedOptions): ChangeFeed {
  const reconnectMinMs = options.reconnectMinMs ?? 100;
  const reconnectMaxMs = options.reconnectMaxMs ?? 5000;
  const heartbeatMs = options.heartbeatMs ?? LISTEN_HEARTBEAT.INTERVAL_MS;
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? LISTEN_HEARTBEAT.TIMEOUT_MS;
  const barrierTimeoutMs = options.barrierTimeoutMs ?? 1000;
  let log: FastifyBaseLogger | null = null;
  let client: pg.Client | null = null;
  /** LISTEN is in place on `client`: every commit from now on is heard. */
  let listening = false;
  // Barrier markers: this feed's own token (other instances' markers are ignored), the marker sent and
  // not yet heard back, and the callers that came after it was sent (they need a later marker).
  const barrierToken = randomBytes(8).toString('hex');
  let markersSent = 0;
  let sentBatch: BarrierBatch | null = null;
  let nextBatch: BarrierBatch | null = null;

  function settleBatch(batch: BarrierBatch, caughtUp: boolean): void {
    if (batch.timer !== null) clearTimeout(batch.timer);
    for (const waiter of batch.waiters) waiter(caughtUp);
  }

  /** The marker in flight was heard (true) or given up on (false); the next batch, if any, goes out. */
  function finishSent(caughtUp: boolean): void {
    const batch = sentBatch;
    if (batch === null) return;
    sentBatch = null;
    settleBatch(batch, caughtUp);
    sendNext();
  }

  function sendNext(): void {
    const batch = nextBatch;
    const from = client;
    if (batch === null || sentBatch !== null) return;
    nextBatch = null;
    if (from === null || !listening) {
      settleBatch(batch, false);
      return;
    }
    batch.seq = ++markersSent;
    sentBatch = batch;
    batch.timer = setTimeout(() => {
      if (sentBatch === batch) finishSent(false);
    }, barrierTimeoutMs);
    batch.timer.unref();
    from.query('select pg_notify($1, $2)', [channel, `${BARRIER_MARK}${barrierToken} ${batch.seq}`]).catch(() => {
      if (sentBatch === batch) finishSent(false);
    });
  }

  /** A marker heard on the channel: ours and the one in flight settles its batch; any other is ignored. */
  function heardMarker(payload: string): void {
    const [token, seq] = payload.slice(BARRIER_MARK.length).split(' ');
    if (token === barrierToken && sentBatch !== null && Number(seq) === sentBatch.seq) finishSent(true);
  }
  let stopped = false;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let heartbeatTimer: NodeJS.Timeout | null = null;

  function lost(from: pg.Client, error?: unknown): void {
    from.removeAllListeners('notification');
    from.end().catch(() => undefined);
    if (client !== from) return; // already handled, or stopped
    client = null;
    listening = false;
    finishSent(false);
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
      application_name: listenerApplicationName(channel),
      keepAlive: true,
      connectionTimeoutMillis: 5000,
    });
    // Without an 'error' listener a dropped connection would crash the process.
    next.on('error', (error) => lost(next, error));
    next.on('end', () => lost(next));
    next.on('notification', (message) => {
      if (message.channel !== channel || message.payload === undefined) return;
      if (message.payload.startsWith(BARRIER_MARK)) heardMarker(message.payload);
      else handlers.onMessage(message.payload);
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
    listening = true;
    handlers.onReset();
    if (failures > 0) log?.info({ channel }, 'change feed: listening again; caches flushed');
    failures = 0;
    heartbeatTimer = setInterval(() => heartbeat(next), heartbeatMs);
    heartbeatTimer.unref();
  }

  return {
    async publish(trx, payload) {
      refuseReserved(payload);
      await sql`select pg_notify(${channel}, ${payload})`.execute(trx);
    },
    barrier() {
      if (client === null || !listening) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        nextBatch ??= { seq: 0, waiters: [], timer: null };
        nextBatch.waiters.push(resolve);
        sendNext();
      });
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
      listening = false;
      finishSent(false);
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
    publish: async (_trx, payload) => refuseReserved(payload),
    barrier: () => Promise.resolve(true),
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
