import { PostgresAdapter, sql, type Kysely } from 'kysely';

// As db/row-changes.ts names them on the day this ran (a migration is history: later changes add a migration).
const ROWS_CHANNEL = 'skaledata_rows';
const WATCHED_TABLES = ['clouds', 'clusters', 'apps'];

/**
 * Issue 14: on PostgreSQL, every statement that changes a watched table announces it on ROWS_CHANNEL
 * (payload: the table's name), from a statement-level trigger. The NOTIFY belongs to the writing
 * transaction, so it is heard when, and only if, the change commits; a trigger also covers writers that
 * no module remembered to announce (job steps, cascades, an operator's psql). PostgreSQL folds identical
 * notifications of one transaction into one. SQLite needs none of this: one process owns the file, and
 * it sees its own writes (DatabaseHandle.changeStamp).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!isPostgres(db)) return;
  await sql`
    create function skaledata_rows_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify(${sql.lit(ROWS_CHANNEL)}, tg_table_name);
      return null;
    end
    $$`.execute(db);
  for (const table of WATCHED_TABLES) {
    await sql`
      create trigger ${sql.id(`${table}_changed`)}
      after insert or update or delete or truncate on ${sql.table(table)}
      for each statement execute function skaledata_rows_changed()`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  if (!isPostgres(db)) return;
  for (const table of WATCHED_TABLES) await sql`drop trigger if exists ${sql.id(`${table}_changed`)} on ${sql.table(table)}`.execute(db);
  await sql`drop function if exists skaledata_rows_changed()`.execute(db);
}

function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
