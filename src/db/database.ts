import { mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import * as initial from './migrations/0001-initial.js';
import * as appsAndIntegrations from './migrations/0002-apps-and-integrations.js';
import * as settings from './migrations/0003-settings.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** What differs between the two databases, as flags the repositories may ask about. */
export interface DbCapabilities {
  /** Several server processes may share this database (PostgreSQL); SQLite is one process's file. */
  sharedByInstances: boolean;
}

export interface DatabaseHandle {
  db: Db;
  kind: 'sqlite' | 'postgres';
  capabilities: DbCapabilities;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-apps-and-integrations': appsAndIntegrations,
  '0003-settings': settings,
};

export function openDatabase(database: Config['database']): DatabaseHandle {
  if (database.kind === 'sqlite') {
    mkdirSync(path.dirname(database.file), { recursive: true });
    const file = new SqliteDatabase(database.file);
    file.pragma('journal_mode = WAL');
    file.pragma('foreign_keys = ON');
    file.pragma('busy_timeout = 5000');
    // WAL + NORMAL survives process crashes; power-loss durability would need FULL.
    file.pragma('synchronous = NORMAL');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: file }) });
    return {
      db,
      kind: 'sqlite',
      capabilities: { sharedByInstances: false },
      ping: async () => {
        await sql`select 1`.execute(db);
      },
      close: () => db.destroy(),
    };
  }
  const pool = new pg.Pool({
    connectionString: database.url,
    max: 10,
    application_name: 'skaledata-api',
    connectionTimeoutMillis: 5000,
    statement_timeout: 15_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    kind: 'postgres',
    capabilities: { sharedByInstances: true },
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

/** Brings the schema up to date; safe to run at every start (applied migrations are skipped). */
export async function migrate(db: Db): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
    migrationTableName: 'skaledata_migrations',
    migrationLockTableName: 'skaledata_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

/** A unique constraint refused the write (same name twice, same digest twice). */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08003', '08006', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

/** The database could not be reached or is too busy right now: a 503 to retry, not a bug. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  return typeof message === 'string' && /timeout exceeded when trying to connect|Connection terminated/.test(message);
}
