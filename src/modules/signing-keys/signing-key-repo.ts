import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { SigningKeyTable } from '../../db/schema.js';

export type SigningKeyRow = Selectable<SigningKeyTable>;

export function createSigningKeyRepo(db: Db) {
  return {
    /**
     * Live keys (a staged one included) and those retired after `retiredAfter`, newest first by
     * `created_at`, when each starts signing: the store signs with the first whose time has come.
     */
    async published(retiredAfter: string): Promise<SigningKeyRow[]> {
      return db
        .selectFrom('signing_keys')
        .selectAll()
        .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', retiredAfter)]))
        .orderBy('created_at', 'desc')
        .orderBy('kid', 'desc')
        .execute();
    },

    async insert(row: SigningKeyRow): Promise<void> {
      await db.insertInto('signing_keys').values(row).execute();
    },

    /**
     * Inserts `row` and retires every other live key when `row` starts signing (its `created_at`, in the
     * future for a staged rotation), in one transaction; returns the kids retired.
     */
    async rotateTo(row: SigningKeyRow): Promise<string[]> {
      return db.transaction().execute(async (trx) => {
        const active = await trx.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).execute();
        await trx.insertInto('signing_keys').values(row).execute();
        const kids = active.map((key) => key.kid);
        if (kids.length > 0) {
          await trx.updateTable('signing_keys').set({ retired_at: row.created_at }).where('kid', 'in', kids).where('retired_at', 'is', null).execute();
        }
        return kids;
      });
    },
  };
}
