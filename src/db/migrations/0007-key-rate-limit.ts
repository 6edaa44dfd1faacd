import type { Kysely } from 'kysely';

/**
 * A key's own rate limit (CONTRACT §7): `rate_limit_requests` per `rate_limit_per_seconds`, both set or
 * both null (null = the server default, RATE_LIMIT_DEFAULT).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('rate_limit_requests', 'integer').execute();
  await db.schema.alterTable('api_keys').addColumn('rate_limit_per_seconds', 'integer').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('rate_limit_per_seconds').execute();
  await db.schema.alterTable('api_keys').dropColumn('rate_limit_requests').execute();
}
