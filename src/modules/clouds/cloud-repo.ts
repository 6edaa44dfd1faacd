import type { Selectable } from 'kysely';
import type { ResourceFence } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { CloudTable } from '../../db/schema.js';

export type CloudRow = Selectable<CloudTable>;

export function createCloudRepo(db: Db) {
  return {
    async insert(trx: Db, row: CloudRow): Promise<void> {
      await trx.insertInto('clouds').values(row).execute();
    },

    async list(accountId: string, filter: { provider?: string | undefined }, page: KeysetPage, fence: ResourceFence | null = null): Promise<CloudRow[]> {
      let query = db.selectFrom('clouds').selectAll().where('account_id', '=', accountId).where('deleted_at', 'is', null);
      // A fenced key sees the clouds its clusters run on, and no other.
      if (fence !== null) {
        query = query.where((eb) =>
          eb.or(fence.clusters.size === 0 ? [] : [eb('id', 'in', eb.selectFrom('clusters').select('cloud_id').where('account_id', '=', accountId).where('id', 'in', [...fence.clusters]).where('deleted_at', 'is', null))]),
        );
      }
      if (filter.provider !== undefined) query = query.where('provider', '=', filter.provider);
      return newestFirst(query, 'id', page).execute();
    },

    async get(accountId: string, id: string): Promise<CloudRow | undefined> {
      return db
        .selectFrom('clouds')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
    },

    async update(accountId: string, id: string, changes: Partial<Pick<CloudRow, 'name' | 'region' | 'credentials_encrypted' | 'credential_hint' | 'updated_at'>>): Promise<boolean> {
      const result = await db
        .updateTable('clouds')
        .set(changes)
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /**
     * Takes the cloud's row lock for the rest of the transaction (a no-op write), so a cluster being
     * created on it and the cloud being removed cannot both succeed. False: no such live cloud.
     */
    async lockLive(trx: Db, accountId: string, id: string): Promise<boolean> {
      const result = await trx
        .updateTable('clouds')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async liveClusterCount(trx: Db, cloudId: string): Promise<number> {
      const row = await trx
        .selectFrom('clusters')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('cloud_id', '=', cloudId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    /** Soft removal: the row stays for clusters that referred to it, its secret does not. */
    async markDeleted(trx: Db, id: string, at: string): Promise<void> {
      await trx.updateTable('clouds').set({ deleted_at: at, updated_at: at, credentials_encrypted: '' }).where('id', '=', id).execute();
    },
  };
}

export type CloudRepo = ReturnType<typeof createCloudRepo>;
