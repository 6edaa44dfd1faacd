import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { KeyActivityTable } from '../../db/schema.js';
import { activityIdFloor, type ActivityRow } from './key-activity.js';

/** Rows per INSERT statement (13 columns: well under both databases' parameter limits). */
const INSERT_CHUNK = 200;
/** Rows deleted per purge statement, and statements per purge run: a purge never holds the database long. */
const PURGE_BATCH = 1000;
// Up to a million rows an hour: more than a flood leaves (refusals past 100 per key and minute are rolled up).
const PURGE_MAX_BATCHES = 1000;

export type ActivityKind = KeyActivityTable['kind'];

/** One group of a key's activity in a window: requests of one route, kind and status. */
export interface ActivityTotal {
  method: string;
  route: string;
  kind: ActivityKind;
  status: number;
  count: number;
}

/** The SQL of key_activity (the recorder writes, the activity and usage routes read). */
export function createKeyActivityRepo(db: Db) {
  return {
    /**
     * One batch, in one transaction (so a failed batch is lost whole, as the recorder counts it). Single
     * rows are inserted; a roll-up (of reads, or of a flood of refusals or writes) adds its count to the
     * row of its bucket, made by whichever instance wrote that bucket first.
     */
    async write(rows: readonly ActivityRow[]): Promise<void> {
      // Single rows have ids of their own (never in conflict); a roll-up adds to its bucket's row.
      await db.transaction().execute(async (trx) => {
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
          await trx
            .insertInto('key_activity')
            .values(rows.slice(i, i + INSERT_CHUNK))
            .onConflict((conflict) => conflict.column('id').doUpdateSet((eb) => ({ count: eb('key_activity.count', '+', eb.ref('excluded.count')) })))
            .execute();
        }
      });
    },

    /** Deletes rows older than `before`, in bounded batches; returns how many. */
    async purgeBefore(before: string): Promise<number> {
      let deleted = 0;
      for (let batch = 0; batch < PURGE_MAX_BATCHES; batch++) {
        const result = await db
          .deleteFrom('key_activity')
          .where('id', 'in', db.selectFrom('key_activity').select('id').where('at', '<', before).limit(PURGE_BATCH))
          .executeTakeFirst();
        const count = Number(result.numDeletedRows);
        deleted += count;
        if (count < PURGE_BATCH) break;
      }
      return deleted;
    },

    /** A page of one key's rows since `sinceMs`, newest first (ids sort by time). */
    async page(keyId: string, sinceMs: number, page: KeysetPage, kind: ActivityKind | undefined): Promise<KeyActivityTable[]> {
      let query = db.selectFrom('key_activity').selectAll().where('key_id', '=', keyId).where('id', '>=', activityIdFloor(sinceMs));
      if (kind !== undefined) query = query.where('kind', '=', kind);
      return newestFirst(query, 'id', page).execute();
    },

    /** A key's requests since `sinceMs`, summed per method, route, kind and status. */
    async totals(keyId: string, sinceMs: number): Promise<ActivityTotal[]> {
      const rows = await db
        .selectFrom('key_activity')
        .select((eb) => ['method', 'route', 'kind', 'status', eb.fn.sum<number | string | bigint>('count').as('count')])
        .where('key_id', '=', keyId)
        .where('id', '>=', activityIdFloor(sinceMs))
        .groupBy(['method', 'route', 'kind', 'status'])
        .execute();
      return rows.map((row) => ({ method: row.method, route: row.route, kind: row.kind, status: Number(row.status), count: Number(row.count) }));
    },
  };
}

export type KeyActivityRepo = ReturnType<typeof createKeyActivityRepo>;
