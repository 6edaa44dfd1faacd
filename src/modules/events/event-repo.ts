import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { EventTable } from '../../db/schema.js';

export type EventRow = Selectable<EventTable>;

export interface EventFilter {
  type?: string | undefined;
  apiKeyId?: string | undefined;
  /** ISO instant: only events at or after it. */
  since?: string | undefined;
}

/** The SQL of the events table. Inserts run in the caller's transaction: the change and its event commit together. */
export function createEventRepo(db: Db) {
  return {
    /** False when an event with the same dedupe key is stored already (nothing written). */
    async insert(trx: Db, row: EventRow): Promise<boolean> {
      const query = trx.insertInto('events').values(row);
      if (row.dedupe_key === null) {
        await query.execute();
        return true;
      }
      const result = await query.onConflict((conflict) => conflict.column('dedupe_key').doNothing()).executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    },

    async list(accountId: string, filter: EventFilter, page: KeysetPage): Promise<EventRow[]> {
      let query = db.selectFrom('events').selectAll().where('account_id', '=', accountId);
      if (filter.type !== undefined) query = query.where('type', '=', filter.type);
      if (filter.apiKeyId !== undefined) query = query.where('api_key_id', '=', filter.apiKeyId);
      if (filter.since !== undefined) query = query.where('created_at', '>=', filter.since);
      return newestFirst(query, 'id', page).execute();
    },

    async get(accountId: string, id: string): Promise<EventRow | undefined> {
      return db.selectFrom('events').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },
  };
}
