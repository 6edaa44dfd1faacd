import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { withStatementCache } from './sqlite-statements.js';

describe('withStatementCache', () => {
  const opened: Database.Database[] = [];
  const open = () => {
    const file = new Database(':memory:');
    opened.push(file);
    file.exec('create table t (id integer primary key, name text)');
    file.exec("insert into t (name) values ('a'), ('b'), ('c')");
    return file;
  };
  afterEach(() => {
    for (const file of opened.splice(0)) if (file.open) file.close();
  });

  it('a ROLLBACK after SQLite rolled back by itself keeps the error that said why (a transaction still open is rolled back)', async () => {
    const file = open();
    const db = new Kysely<{ t: { id: number; name: string } }>({ dialect: new SqliteDialect({ database: withStatementCache(file) }) });
    // What SQLITE_FULL does inside a transaction: the transaction is gone when the error reaches Kysely.
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 10, name: 'lost' }).execute();
        file.exec('rollback');
        throw full;
      }),
    ).rejects.toBe(full);
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: 11, name: 'undone' }).execute();
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(file.prepare('select count(*) as n from t where id >= 10').get()).toEqual({ n: 0 });
  });

  it('prepares each SQL text once and reuses the statement', () => {
    const file = open();
    const prepare = vi.spyOn(file, 'prepare');
    const cached = withStatementCache(file);
    const first = cached.prepare('select name from t where id = ?');
    const second = cached.prepare('select name from t where id = ?');
    expect(second).toBe(first);
    expect(prepare).toHaveBeenCalledTimes(1);
    expect(second.all([2])).toEqual([{ name: 'b' }]);
    cached.prepare('select name from t where id > ?');
    expect(prepare).toHaveBeenCalledTimes(2);
  });

  it('gives a fresh statement while the kept one is still being iterated', () => {
    const cached = withStatementCache(open());
    const text = 'select name from t order by id';
    const streaming = cached.prepare(text);
    const iterator = streaming.iterate([]);
    expect(iterator.next().value).toEqual({ name: 'a' });
    const other = cached.prepare(text);
    expect(other).not.toBe(streaming);
    expect(other.all([])).toHaveLength(3);
    expect([...iterator].map((row) => (row as { name: string }).name)).toEqual(['b', 'c']);
    // Done iterating: the kept statement is free again.
    expect(cached.prepare(text)).toBe(streaming);
  });

  it('keeps at most its capacity of statements', () => {
    const file = open();
    const prepare = vi.spyOn(file, 'prepare');
    const cached = withStatementCache(file, 2);
    cached.prepare('select 1');
    cached.prepare('select 2');
    cached.prepare('select 3'); // drops "select 1", the least recently used
    cached.prepare('select 3');
    cached.prepare('select 2');
    expect(prepare).toHaveBeenCalledTimes(3);
    cached.prepare('select 1');
    expect(prepare).toHaveBeenCalledTimes(4);
  });

  it('returns rows as plain objects with the columns in order, duplicates and odd names included', () => {
    const cached = withStatementCache(open());
    const rows = cached.prepare('select id, name, id as "two words", \'x\' as "quo""te", 1 as "__proto__", name as name from t where id = ?').all([1]);
    expect(rows).toHaveLength(1);
    const row = rows[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.entries(row)).toEqual([['id', 1], ['name', 'a'], ['two words', 1], ['quo"te', 'x'], ['__proto__', 1]]);
    const iterated = [...cached.prepare('select id, name from t order by id').iterate([])];
    expect(iterated).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }]);
    expect(cached.prepare("insert into t (name) values ('d')").run([])).toMatchObject({ changes: 1 });
  });

  it('sees schema changes made after a statement was kept', async () => {
    const db = new Kysely<{ t: { id: number; name: string; extra?: string } }>({ dialect: new SqliteDialect({ database: withStatementCache(open()) }) });
    const all = () => sql<Record<string, unknown>>`select * from t where id = ${1}`.execute(db);
    expect((await all()).rows).toEqual([{ id: 1, name: 'a' }]);
    await sql`alter table t add column extra text default 'x'`.execute(db);
    expect((await all()).rows).toEqual([{ id: 1, name: 'a', extra: 'x' }]);
    await sql`alter table t rename column name to title`.execute(db);
    expect((await all()).rows).toEqual([{ id: 1, title: 'a', extra: 'x' }]);
    await db.destroy();
  });
});
