import type { Db } from '../../db/database.js';

/**
 * The Svix message ids of Clerk deliveries already accepted (migration 0010). The primary key decides
 * between instances: of two deliveries with one id, exactly one insert succeeds.
 */
export function createClerkDeliveryRepo(db: Db) {
  return {
    /**
     * Records `id` as accepted at `at` and forgets ids received before `forgetBefore` (too old to replay:
     * Svix's timestamp tolerance refuses them first). False when `id` was accepted before: a replay.
     */
    async claim(id: string, at: string, forgetBefore: string): Promise<boolean> {
      return db.transaction().execute(async (trx) => {
        await trx.deleteFrom('clerk_webhook_deliveries').where('received_at', '<', forgetBefore).execute();
        const inserted = await trx
          .insertInto('clerk_webhook_deliveries')
          .values({ id, received_at: at })
          .onConflict((conflict) => conflict.column('id').doNothing())
          .executeTakeFirst();
        return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1;
      });
    },

    /** Forgets an accepted id whose handling failed, so Svix's retry of it is not refused as a replay. */
    async release(id: string): Promise<void> {
      await db.deleteFrom('clerk_webhook_deliveries').where('id', '=', id).execute();
    },
  };
}
