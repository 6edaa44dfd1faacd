import type { Kysely } from 'kysely';

/**
 * What the signed calls SkaleData receives (issue 13) need stored:
 * - `clerk_webhook_deliveries`: the Svix message ids of Clerk deliveries already accepted, so a replayed
 *   delivery is refused on every instance (the primary key makes two instances race to one winner). An id
 *   is kept a little longer than Svix's 5-minute timestamp tolerance, after which a replay is refused as
 *   stale anyway, then purged.
 * - an index on `api_keys.created_by`: a deleted Clerk user's keys are found in every account at once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('clerk_webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('clerk_webhook_deliveries_received_idx').on('clerk_webhook_deliveries').column('received_at').execute();
  await db.schema.createIndex('api_keys_created_by_idx').on('api_keys').columns(['created_by', 'account_id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('api_keys_created_by_idx').ifExists().execute();
  await db.schema.dropTable('clerk_webhook_deliveries').ifExists().execute();
}
