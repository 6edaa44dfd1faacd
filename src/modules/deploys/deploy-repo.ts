import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { DeployTable } from '../../db/schema.js';

export type DeployRow = Selectable<DeployTable>;

export const DEPLOY_STATUSES = ['queued', 'in_progress', 'succeeded', 'failed', 'superseded', 'canceled'] as const;
export type DeployStatus = (typeof DEPLOY_STATUSES)[number];
/** A deploy in one of these is not settled yet; once settled, job hooks never move it again. */
const OPEN_DEPLOY: readonly DeployStatus[] = ['queued', 'in_progress'];

export function createDeployRepo(db: Db) {
  return {
    async insert(trx: Db, row: DeployRow): Promise<void> {
      await trx.insertInto('deploys').values(row).execute();
    },

    /** The newest deploy of the app (ids sort by creation). */
    async latestId(trx: Db, appId: string): Promise<string | null> {
      const row = await trx.selectFrom('deploys').select('id').where('app_id', '=', appId).orderBy('id', 'desc').limit(1).executeTakeFirst();
      return row?.id ?? null;
    },

    async list(accountId: string, appId: string, page: KeysetPage): Promise<DeployRow[]> {
      return newestFirst(db.selectFrom('deploys').selectAll().where('account_id', '=', accountId).where('app_id', '=', appId), 'id', page).execute();
    },

    async get(accountId: string, appId: string, id: string, q: Db = db): Promise<DeployRow | undefined> {
      return q
        .selectFrom('deploys')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('app_id', '=', appId)
        .where('id', '=', id)
        .executeTakeFirst();
    },
  };
}

export type DeployRepo = ReturnType<typeof createDeployRepo>;

/** Moves a deploy to where its job ended; a deploy already settled (superseded, say) stays as it is. */
export async function settleDeploy(trx: Db, deployId: string, changes: Partial<DeployRow>, now: string): Promise<void> {
  await trx
    .updateTable('deploys')
    .set({ ...changes, updated_at: now })
    .where('id', '=', deployId)
    .where('status', 'in', [...OPEN_DEPLOY])
    .execute();
}
