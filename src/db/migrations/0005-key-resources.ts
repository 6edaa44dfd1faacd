import type { Kysely } from 'kysely';

/**
 * More restrictions on an API key (CONTRACT §7), both JSON text, null = none:
 * - resources: `{"clusters":[ids],"apps":[ids]}`, the only clusters and apps the key may see or touch;
 * - scope_expires_at: `{"<scope>":"<timestamp>"}`, scopes that lapse before the key does.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('resources', 'text').execute();
  await db.schema.alterTable('api_keys').addColumn('scope_expires_at', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('scope_expires_at').execute();
  await db.schema.alterTable('api_keys').dropColumn('resources').execute();
}
