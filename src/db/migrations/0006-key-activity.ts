import type { Kysely } from 'kysely';

/**
 * What each API key did (CONTRACT §7, "Seeing what a key does"), kept 30 days: refused requests and
 * writes one row each, successful reads one row per key, minute, method, route and status with a count.
 * Ids are time-ordered (`act_` + time + 16 characters), so (key_id, id) pages a key's rows newest first;
 * a roll-up's id is derived from its minute and bucket, so every instance adds to the same row. `at`
 * (ISO text, fixed width) is what the purge reads.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('key_activity')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('code', 'text')
    .addColumn('missing_scope', 'text')
    .addColumn('client_ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('key_activity_key_idx').on('key_activity').columns(['key_id', 'id']).execute();
  await db.schema.createIndex('key_activity_at_idx').on('key_activity').column('at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('key_activity').ifExists().execute();
}
