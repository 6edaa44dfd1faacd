import type { Kysely } from 'kysely';

/** Restrictions on an API key (CONTRACT §7): the client addresses it may be used from (a JSON list of CIDRs; null = any). */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('allowed_ips', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('api_keys').dropColumn('allowed_ips').execute();
}
