import type { Kysely } from 'kysely';

/**
 * The account's audit trail (CONTRACT §7, `GET /events`), and what the key lifecycle of issue 13 keeps
 * on a key.
 * - `events`: one row per change, written in the transaction of the change it records. Ids are
 *   time-ordered (`evt_`), so (account_id, id) pages newest first; `api_key_id` is the key an event is
 *   about or was done by (the `?api_key_id=` filter). `dedupe_key` makes an event that several instances
 *   may raise for the same fact (a key's expiry notice) exist once: the second insert is a no-op.
 * - `api_keys.revoked_reason`: why a key was revoked (`revoked`, `leaked`, `owner_removed`).
 * - `api_keys.canary`: a tripwire key (1): every use answers like an unknown key and raises an event.
 * - `api_keys.previous_retires_on_first_use`: after a roll with `retire_old: on_first_use`, the old secret
 *   (previous_hash) is dropped the first time the new one is used, or when its grace ends.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('client_ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('subject_type', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('dedupe_key', 'text', (c) => c.unique())
    .execute();
  await db.schema.createIndex('events_account_idx').on('events').columns(['account_id', 'id']).execute();
  await db.schema.createIndex('events_account_type_idx').on('events').columns(['account_id', 'type', 'id']).execute();
  await db.schema.createIndex('events_account_key_idx').on('events').columns(['account_id', 'api_key_id', 'id']).execute();
  // The expiry notices look for live keys expiring within 7 days.
  await db.schema.createIndex('api_keys_expires_at_idx').on('api_keys').column('expires_at').execute();
  await db.schema.alterTable('api_keys').addColumn('revoked_reason', 'text').execute();
  await db.schema.alterTable('api_keys').addColumn('canary', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('api_keys').addColumn('previous_retires_on_first_use', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('previous_retires_on_first_use').execute();
  await db.schema.alterTable('api_keys').dropColumn('canary').execute();
  await db.schema.alterTable('api_keys').dropColumn('revoked_reason').execute();
  await db.schema.dropIndex('api_keys_expires_at_idx').ifExists().execute();
  await db.schema.dropTable('events').ifExists().execute();
}
