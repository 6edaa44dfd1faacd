import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { LruMap } from '../lib/lru.js';

/** Distinct SQL texts kept prepared; the application has a few hundred at most. */
export const PREPARED_STATEMENTS_KEPT = 1000;

type Row = Record<string, unknown>;
type RowBuilder = (values: unknown[]) => Row;

/**
 * Builds row objects from raw value arrays with one object literal per statement. better-sqlite3 builds
 * each row object through V8's C++ API, one property (and one column-name string) at a time; a literal
 * of a fixed shape, compiled once, is about a third cheaper per row on a 20-row list. The names come
 * from SQLite's description of our own statements and are written as JSON string literals.
 */
function rowBuilder(names: readonly string[]): RowBuilder {
  // `{"__proto__": …}` would set the prototype rather than a property: build those rows the slow way.
  if (names.includes('__proto__')) {
    return (values) => {
      const row: Row = {};
      names.forEach((name, i) => Object.defineProperty(row, name, { value: values[i], enumerable: true, writable: true, configurable: true }));
      return row;
    };
  }
  const fields = names.map((name, i) => `${JSON.stringify(name)}: values[${i}]`).join(', ');
  return new Function('values', `return { ${fields} };`) as RowBuilder;
}

/** A kept statement: readers return their rows as raw arrays, turned into objects by `rowBuilder`. */
class KeptStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #statement: BetterSqlite3.Statement;
  readonly #build: RowBuilder | null;

  constructor(statement: BetterSqlite3.Statement) {
    this.#statement = statement;
    this.reader = statement.reader;
    this.#build = statement.reader ? rowBuilder(statement.columns().map((column) => column.name)) : null;
    if (statement.reader) statement.raw(true);
  }

  get busy(): boolean {
    return this.#statement.busy;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    const build = this.#build;
    if (build === null) return this.#statement.all(parameters);
    return (this.#statement.all(parameters) as unknown[][]).map(build);
  }

  run(parameters: ReadonlyArray<unknown>): BetterSqlite3.RunResult {
    return this.#statement.run(parameters);
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    const build = this.#build;
    for (const values of this.#statement.iterate(parameters)) yield build === null ? values : build(values as unknown[]);
  }
}

const SCHEMA_CHANGE = /^\s*(create|alter|drop)\b/i;
const ROLLBACK = /^\s*rollback\s*;?\s*$/i;

/**
 * A ROLLBACK with no transaction left to roll back. On some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM)
 * SQLite has already rolled the transaction back by itself; Kysely then sends ROLLBACK, whose own error
 * ("cannot rollback - no transaction is active") would replace the one that says why, turning a disk-full
 * 503 into a 500. There is nothing left to undo, so it does nothing.
 */
const NOTHING_TO_ROLL_BACK: SqliteStatement = {
  reader: false,
  all: () => [],
  run: () => ({ changes: 0, lastInsertRowid: 0 }),
  *iterate() {},
};

/**
 * The database as Kysely's SQLite dialect sees it, with prepared statements reused: Kysely prepares the
 * SQL of every query it runs, and preparing (parsing and planning) cost more than running the indexed
 * lookups most requests make. A statement still being iterated (a streamed select) is busy and cannot
 * run a second time meanwhile, so such a query gets a fresh one. A kept statement knows its columns from
 * when it was prepared, so a schema change (CREATE, ALTER, DROP: migrations) forgets every kept statement.
 */
export function withStatementCache(file: BetterSqlite3.Database, capacity = PREPARED_STATEMENTS_KEPT): SqliteDatabase {
  const statements = new LruMap<string, KeptStatement>(capacity);
  return {
    close: () => {
      statements.clear();
      file.close();
    },
    prepare(sql: string): SqliteStatement {
      if (!file.inTransaction && ROLLBACK.test(sql)) return NOTHING_TO_ROLL_BACK;
      if (SCHEMA_CHANGE.test(sql)) {
        const statement = file.prepare(sql);
        return {
          reader: statement.reader,
          all: (parameters) => statement.all(parameters),
          iterate: (parameters) => statement.iterate(parameters),
          run: (parameters) => {
            try {
              return statement.run(parameters);
            } finally {
              statements.clear();
            }
          },
        };
      }
      const kept = statements.get(sql);
      if (kept !== undefined && !kept.busy) return kept;
      const statement = new KeptStatement(file.prepare(sql));
      if (kept === undefined) statements.set(sql, statement);
      return statement;
    },
  };
}
