import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { AppTable, DagBundleTable } from '../../db/schema.js';
import type { AppSpec } from '../../infra/driver.js';

export type DagBundleRow = Selectable<DagBundleTable>;
export type AppRow = Selectable<AppTable>;

export const DAG_BUNDLE_STATUSES = ['syncing', 'synced', 'failed'] as const;
export type DagBundleStatus = (typeof DAG_BUNDLE_STATUSES)[number];

/** App statuses in which the app is going away: no new DAGs for it. */
const GOING_AWAY = ['deleting', 'deleted'];

/** The app as the driver sees it. Read straight from the apps table: this module does not depend on the apps module. */
export function toAppSpec(app: Pick<AppRow, 'id' | 'name' | 'type' | 'image'>): AppSpec {
  return { id: app.id, name: app.name, type: app.type === 'service' ? 'service' : 'airflow', image: app.image };
}

export function createDagRepo(db: Db) {
  return {
    /** The app, live or not, only within the caller's account (another account's id is simply not found). */
    async findApp(accountId: string, appId: string): Promise<AppRow | undefined> {
      return db.selectFrom('apps').selectAll().where('account_id', '=', accountId).where('id', '=', appId).executeTakeFirst();
    },

    /**
     * Holds the app row for the rest of the transaction (a no-op write locks it on PostgreSQL and takes
     * the write lock on SQLite), only while it is live: uploads to one app queue behind each other, and
     * a delete that won the race makes this return false.
     */
    async lockLiveApp(trx: Db, accountId: string, appId: string): Promise<boolean> {
      const result = await trx
        .updateTable('apps')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('account_id', '=', accountId)
        .where('id', '=', appId)
        .where('deleted_at', 'is', null)
        .where('status', 'not in', GOING_AWAY)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async nextVersion(trx: Db, appId: string): Promise<number> {
      const row = await trx
        .selectFrom('dag_bundles')
        .select((eb) => eb.fn.max('version').as('version'))
        .where('app_id', '=', appId)
        .executeTakeFirst();
      return Number(row?.version ?? 0) + 1;
    },

    async insert(trx: Db, row: DagBundleRow): Promise<void> {
      await trx.insertInto('dag_bundles').values(row).execute();
    },

    async get(accountId: string, id: string, q: Db = db): Promise<DagBundleRow | undefined> {
      return q.selectFrom('dag_bundles').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },

    /** Newest version first: pages follow versions, not creation instants (`page.after` is a version). */
    async list(accountId: string, appId: string, page: KeysetPage): Promise<DagBundleRow[]> {
      return newestFirst(db.selectFrom('dag_bundles').selectAll().where('account_id', '=', accountId).where('app_id', '=', appId), 'version', page).execute();
    },

    /** The version a cursor names, if it is a bundle of this app in this account. */
    async versionOf(accountId: string, appId: string, bundleId: string): Promise<number | undefined> {
      const row = await db
        .selectFrom('dag_bundles')
        .select('version')
        .where('account_id', '=', accountId)
        .where('app_id', '=', appId)
        .where('id', '=', bundleId)
        .executeTakeFirst();
      return row?.version;
    },
  };
}

export type DagRepo = ReturnType<typeof createDagRepo>;

/** A bundle and its app, by the bundle's id (for its sync job, which holds neither: it only names the bundle). */
export async function getBundleWithApp(db: Db, bundleId: string): Promise<{ bundle: DagBundleRow; app: AppRow }> {
  const bundle = await db.selectFrom('dag_bundles').selectAll().where('id', '=', bundleId).executeTakeFirstOrThrow();
  const app = await db.selectFrom('apps').selectAll().where('id', '=', bundle.app_id).executeTakeFirstOrThrow();
  return { bundle, app };
}

/** Sets a bundle's status when its sync job ends (only if that job is still the bundle's). */
export async function finishBundle(trx: Db, bundleId: string, jobId: string, status: DagBundleStatus, now: string): Promise<void> {
  await trx.updateTable('dag_bundles').set({ status, updated_at: now }).where('id', '=', bundleId).where('job_id', '=', jobId).execute();
}
