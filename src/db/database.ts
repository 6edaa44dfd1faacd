import { mkdirSync, statfsSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { withStatementCache } from './sqlite-statements.js';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type PostgresPool, type PostgresPoolClient, type RawBuilder } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import { databaseFault, StorageFaults, type DatabaseFault } from './faults.js';
import { statementKind } from './watched-tables.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** What differs between the two databases, as flags the repositories may ask about. */
export interface DbCapabilities {
  /** Several server processes may share this database (PostgreSQL); SQLite is one process's file. */
  sharedByInstances: boolean;
  /**
   * `SELECT … FOR UPDATE SKIP LOCKED`: a reader locks the rows it takes and others pass over them
   * without waiting (PostgreSQL). Without it, rows are taken by conditional UPDATEs one at a time.
   */
  supportsSkipLocked: boolean;
}

export interface DatabaseHandle {
  db: Db;
  kind: 'sqlite' | 'postgres';
  capabilities: DbCapabilities;
  /**
   * The database server's clock plus `offsetMs`, as SQL yielding an ISO-8601 UTC string shaped like
   * Date#toISOString (so it compares as text with the timestamps we store). Job leases are stamped
   * and judged with it: instances on different hosts then agree on when a lease ran out, whatever
   * their own clocks say.
   */
  sqlNow(offsetMs?: number): RawBuilder<string>;
  /** Runs `work` (the migrations) while no other instance sharing this database runs its own. */
  withMigrationLock<T>(work: () => Promise<T>): Promise<T>;
  /** PostgreSQL: a connection for migrations alone, without the request time bounds (closed after). */
  migrationDb?: () => Db;
  /**
   * SQLite only: a value that differs whenever a row may have changed since it was last read. It moves
   * at once on every row this process's connection inserts, updates or deletes (counted when written, so
   * a write still inside an open transaction has moved it already; foreign-key cascades count too), and
   * within OTHER_COMMITS_CHECK_MS of a commit by another connection to the file (another process: not a
   * supported way to run, but seen). Read synchronously, in well under a microsecond. Absent on
   * PostgreSQL, where other instances write rows this process never hears of in time.
   */
  changeStamp?: () => string;
  /**
   * SQLite only: `PRAGMA data_version`, which moves on every commit by another connection to the file and
   * never on this process's own. Read synchronously; both `changeStamp` and the change feed's poll use it.
   */
  commitsElsewhere?: () => number;
  /**
   * PostgreSQL only: moves whenever this process writes one of the WATCHED_TABLES (db/watched-tables.ts):
   * when the statement is answered, and when its transaction's COMMIT or ROLLBACK is answered. Together with the row notifications of every instance (db/row-changes.ts) it tells kept list
   * pages that their rows changed; the move after the commit comes before the writer's response, so the
   * writer's next read never meets a page kept from before its write.
   */
  writesHere?: () => number;
  /** Storage faults seen by whoever used this database (requests, jobs): kept for readiness to report. */
  faults: StorageFaults;
  /**
   * The connections queries run on, read when metrics are scraped. PostgreSQL: its pool's open and idle
   * connections, the queries waiting for one, and its size (readiness and LISTEN have connections of their
   * own, outside it). SQLite: one connection, always open; idle and waiting are not known (null).
   */
  pool(): PoolUse;
  /**
   * Whether the database can take work now, answered within READINESS_TIMEOUT_MS whatever the database
   * does: null when ready, else the fault. A storage fault seen recently counts; on SQLite, so does a data
   * folder with less than SQLITE_MIN_FREE_BYTES left.
   */
  readiness(): Promise<DatabaseFault | null>;
  close(): Promise<void>;
}

export interface PoolUse {
  total: number;
  idle: number | null;
  waiting: number | null;
  max: number;
}

/** The pool size of the PostgreSQL connections requests and jobs share. */
const PG_POOL_MAX = 10;

/** /readyz answers within this bound (the issue's 2 s, with room for the HTTP round trip). */
export const READINESS_TIMEOUT_MS = 1_500;
/** SQLite: below this much free space in the database's folder, the instance reports its storage full. */
export const SQLITE_MIN_FREE_BYTES = 1024 * 1024;

/**
 * PostgreSQL bounds (see README, Reliability). The server cancels a statement after STATEMENT_TIMEOUT_MS;
 * the client gives up on any reply after QUERY_TIMEOUT_MS (a network cut: the server cannot even say it
 * canceled), and on a connection it could not open or take from the pool after CONNECT_TIMEOUT_MS.
 * TCP keepalive finds dead idle connections.
 */
export const PG_TIMEOUTS = {
  STATEMENT_TIMEOUT_MS: 5_000,
  QUERY_TIMEOUT_MS: 6_000,
  CONNECT_TIMEOUT_MS: 3_000,
  KEEPALIVE_INITIAL_DELAY_MS: 10_000,
  IDLE_IN_TRANSACTION_MS: 10_000,
} as const;

/** How stale `changeStamp` may be about commits by other connections to a SQLite file (ms). */
export const OTHER_COMMITS_CHECK_MS = 10;

/** pg_advisory_lock key held while migrating: "skd-migr" as a 64-bit integer. */
export const MIGRATION_LOCK_KEY = '8316851283141683058';
/** How long an instance waits for another's migrations before it gives up starting. */
const MIGRATION_LOCK_WAIT_MS = 5 * 60_000;

export function openDatabase(database: Config['database']): DatabaseHandle {
  if (database.kind === 'sqlite') {
    mkdirSync(path.dirname(database.file), { recursive: true });
    const file = new SqliteDatabase(database.file);
    file.pragma('journal_mode = WAL');
    file.pragma('foreign_keys = ON');
    file.pragma('busy_timeout = 5000');
    // WAL + NORMAL survives process crashes; power-loss durability would need FULL.
    file.pragma('synchronous = NORMAL');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(file) }) });
    // total_changes(): rows written through this connection, read every time (0.1 µs). data_version:
    // commits by other connections; reading it opens a read transaction on the WAL (about 7 µs in the
    // server), so it is read again at most every OTHER_COMMITS_CHECK_MS.
    const changesHere = file.prepare('select total_changes()').pluck();
    const dataVersion = file.prepare('pragma data_version').pluck();
    const commitsElsewhere = () => dataVersion.get() as number;
    let elsewhere: unknown = null;
    let elsewhereReadAt = -Infinity;
    const changeStamp = (): string => {
      const now = Date.now();
      if (now - elsewhereReadAt >= OTHER_COMMITS_CHECK_MS || now < elsewhereReadAt) {
        elsewhere = commitsElsewhere();
        elsewhereReadAt = now;
      }
      return `${String(changesHere.get())}:${String(elsewhere)}`;
    };
    const faults = new StorageFaults();
    const folder = path.dirname(database.file);
    const ping = async () => {
      await sql`select 1`.execute(db);
    };
    return {
      db,
      kind: 'sqlite',
      faults,
      readiness: createReadiness(faults, ping, () => freeBytes(folder) < SQLITE_MIN_FREE_BYTES),
      changeStamp,
      commitsElsewhere,
      capabilities: { sharedByInstances: false, supportsSkipLocked: false },
      // One synchronous connection (better-sqlite3): Kysely takes turns on it, so there is nothing to wait for in a pool.
      pool: () => ({ total: 1, idle: null, waiting: null, max: 1 }),
      // One process owns the file; the migrator's own lock table is enough.
      withMigrationLock: (work) => work(),
      sqlNow: (offsetMs = 0) =>
        offsetMs === 0
          ? sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`
          : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${`${offsetMs / 1000} seconds`})`,
      close: () => db.destroy(),
    };
  }
  const connection = {
    connectionString: database.url,
    connectionTimeoutMillis: PG_TIMEOUTS.CONNECT_TIMEOUT_MS,
    statement_timeout: PG_TIMEOUTS.STATEMENT_TIMEOUT_MS,
    query_timeout: PG_TIMEOUTS.QUERY_TIMEOUT_MS,
    // A transaction whose client lost its connection (a network cut: the server hears nothing) would keep
    // its row locks until the server's own TCP keepalive noticed, hours later; the server ends it instead.
    idle_in_transaction_session_timeout: PG_TIMEOUTS.IDLE_IN_TRANSACTION_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: PG_TIMEOUTS.KEEPALIVE_INITIAL_DELAY_MS,
  };
  const pool = new pg.Pool({ ...connection, max: PG_POOL_MAX, application_name: 'skaledata-api', idleTimeoutMillis: 30_000 });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const statements = { watchedWrites: 0 };
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: discardingTimedOut(pool, statements) }) });
  const faults = new StorageFaults();
  // Readiness has a connection of its own: a pool busy with requests must not make a healthy instance look unready.
  const probe = createProbe({ ...connection, application_name: 'skaledata-readiness' });
  return {
    db,
    kind: 'postgres',
    faults,
    readiness: createReadiness(faults, probe.ping, () => false),
    capabilities: { sharedByInstances: true, supportsSkipLocked: true },
    pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: PG_POOL_MAX }),
    writesHere: () => statements.watchedWrites,
    withMigrationLock: (work) => withAdvisoryLock(database.url, work),
    // Migrations may take longer than any request should: their own connection, without the bounds.
    migrationDb: () => new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: database.url, max: 1, application_name: 'skaledata-migrate' }) }) }),
    sqlNow: (offsetMs = 0) =>
      offsetMs === 0
        ? sql<string>`to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
        : sql<string>`to_char((now() at time zone 'UTC') + make_interval(secs => ${offsetMs / 1000}), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
    close: async () => {
      await probe.close();
      await db.destroy();
    },
  };
}

/**
 * The pool as Kysely sees it, with two changes. Writes to the watched tables are counted into `statements`
 * (DatabaseHandle.writesHere) when answered, and so is the end (COMMIT or ROLLBACK) of a transaction that
 * made one: a page whose stamp was read before that answer is never served after it. And a client whose query got no reply in time (pg's query_timeout)
 * is closed on release instead of going back to the pool. Its query is still pending on the wire, so
 * anything sent after it would wait behind it; until it is released, every later query on it fails at
 * once (the transaction's ROLLBACK included) rather than wait for a reply that is not coming.
 * One wrapper per pooled client, made once: Kysely keeps its connection objects keyed by client.
 */
function discardingTimedOut(pool: pg.Pool, statements: { watchedWrites: number }): PostgresPool {
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  function wrap(client: pg.PoolClient): PostgresPoolClient {
    let stuck: Error | null = null;
    // The open transaction on this connection wrote a watched table: its end moves the count.
    let transactionWroteWatched = false;
    const query = (text: string, parameters: unknown[]) => {
      if (stuck !== null) return Promise.reject(stuck);
      const kind = statementKind(text);
      if (kind === 'begin') transactionWroteWatched = false;
      if (kind === 'watched-write') transactionWroteWatched = true;
      const sent = client.query(text, parameters).catch((error: unknown) => {
        if (databaseFault(error) === 'timeout' && !(error as { code?: unknown }).code) stuck = error as Error;
        throw error;
      });
      if (kind !== 'watched-write' && kind !== 'end') return sent;
      return sent.finally(() => {
        if (kind === 'end' && !transactionWroteWatched) return;
        if (kind === 'end') transactionWroteWatched = false;
        statements.watchedWrites++;
      });
    };
    return {
      query: query as unknown as PostgresPoolClient['query'],
      release: (destroy?: boolean) => client.release(destroy === true || stuck !== null),
    };
  }
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (wrapper === undefined) {
        wrapper = wrap(client);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}

/** `select 1` on a connection of its own, opened on first use and again after any failure. */
function createProbe(options: pg.ClientConfig): { ping(): Promise<void>; close(): Promise<void> } {
  let client: pg.Client | null = null;
  const drop = (which: pg.Client) => {
    if (client === which) client = null;
    which.end().catch(() => undefined);
  };
  return {
    async ping() {
      let current = client;
      if (current === null) {
        current = new pg.Client(options);
        current.on('error', () => undefined);
        client = current;
        try {
          await current.connect();
        } catch (error) {
          drop(current);
          throw error;
        }
      }
      try {
        await current.query('select 1');
      } catch (error) {
        drop(current);
        throw error;
      }
    },
    async close() {
      const current = client;
      client = null;
      await current?.end().catch(() => undefined);
    },
  };
}

/**
 * Free bytes this process may write on the filesystem holding `folder` (Infinity when it cannot be read):
 * root may also use the blocks ext4 reserves for it.
 */
function freeBytes(folder: string): number {
  try {
    const stats = statfsSync(folder);
    return (process.getuid?.() === 0 ? stats.bfree : stats.bavail) * stats.bsize;
  } catch {
    return Infinity;
  }
}

/**
 * The readiness check: a storage fault seen lately, a full disk, then a round trip, answered within
 * READINESS_TIMEOUT_MS. One round trip at a time: while the database hangs, probes share the one in
 * flight, so readiness holds one pooled connection, not one per probe.
 */
function createReadiness(faults: StorageFaults, ping: () => Promise<void>, diskFull: () => boolean): () => Promise<DatabaseFault | null> {
  let running: Promise<DatabaseFault | null> | null = null;
  return () => {
    const recent = faults.recent();
    if (recent !== null) return Promise.resolve(recent);
    if (diskFull()) return Promise.resolve('storage_full');
    running ??= ping()
      .then(
        () => null,
        (error: unknown) => databaseFault(error) ?? 'unavailable',
      )
      .finally(() => {
        running = null;
      });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<DatabaseFault>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), READINESS_TIMEOUT_MS);
    });
    return Promise.race([running, late]).finally(() => clearTimeout(timer));
  };
}

/**
 * Holds a session-level advisory lock on a connection of its own (outside the pool) while `work` runs.
 * Instances starting together queue here: the first migrates, the others find nothing left to do.
 * Kysely's migrator locks too, but only after it has created its bookkeeping tables, so the first
 * start on an empty database would otherwise race on those. The lock dies with the connection, so a
 * process killed while migrating does not block the next one.
 */
async function withAdvisoryLock<T>(url: string, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'skaledata-migrate', lock_timeout: MIGRATION_LOCK_WAIT_MS });
  client.on('error', () => undefined);
  await client.connect();
  try {
    try {
      await client.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    } catch (error) {
      if ((error as { code?: unknown }).code === '55P03') {
        throw new Error(`Another instance has been migrating this database for over ${MIGRATION_LOCK_WAIT_MS / 60_000} minutes; not starting.`, { cause: error });
      }
      throw error;
    }
    try {
      return await work();
    } finally {
      await client.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Brings the schema up to date; safe to run at every start (applied migrations are skipped) and from
 * several instances starting together (they take turns under the database's migration lock).
 */
export async function migrate(database: Pick<DatabaseHandle, 'db' | 'withMigrationLock' | 'migrationDb'>): Promise<void> {
  const db = database.migrationDb?.() ?? database.db;
  try {
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => MIGRATIONS },
      migrationTableName: 'skaledata_migrations',
      migrationLockTableName: 'skaledata_migrations_lock',
    });
    const { error } = await database.withMigrationLock(() => migrator.migrateToLatest());
    if (error) throw error instanceof Error ? error : new Error(String(error));
  } finally {
    if (db !== database.db) await db.destroy();
  }
}

/** A unique constraint refused the write (same name twice, same digest twice). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * PostgreSQL aborted the transaction to break a lock cycle or a serialization conflict (e.g. a deploy
 * and a job cancel taking the same app and job rows in opposite orders); running it again is safe.
 */
export function isTransientConflict(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '40P01' || code === '40001';
}

