import type { Selectable } from 'kysely';
import type { ResourceFence } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';
import { visibleApps } from '../../db/fence-sql.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { AppTable } from '../../db/schema.js';
import type { AppSpec } from '../../infra/driver.js';
import { claimForJob, releaseFromJob } from '../jobs/job-repo.js';

export type AppRow = Selectable<AppTable>;

export const APP_TYPES = ['airflow', 'service'] as const;
export type AppType = (typeof APP_TYPES)[number];

export const APP_STATUSES = ['pending', 'deploying', 'running', 'restarting', 'deleting', 'deleted', 'failed'] as const;
export type AppStatus = (typeof APP_STATUSES)[number];

/** Statuses in which the app is on its way out: nothing may start on it any more. */
export const GONE: readonly AppStatus[] = ['deleting', 'deleted'];

export interface AppConfig {
  replicas: number;
  port?: number;
}

export const parseConfig = (row: Pick<AppRow, 'config'>): AppConfig => JSON.parse(row.config) as AppConfig;

export interface AppFilter {
  cluster_id?: string | undefined;
  type?: string | undefined;
  status?: string | undefined;
}

export function createAppRepo(db: Db) {
  return {
    async insert(trx: Db, row: AppRow): Promise<void> {
      await trx.insertInto('apps').values(row).execute();
    },

    async list(accountId: string, filter: AppFilter, page: KeysetPage, fence: ResourceFence | null = null): Promise<AppRow[]> {
      let query = db.selectFrom('apps').selectAll().where('account_id', '=', accountId);
      // A fenced key: its apps, and the apps of its clusters.
      if (fence !== null) query = query.where((eb) => eb.or(visibleApps(eb, fence)));
      // Deleted apps stay readable by id (to follow their delete job) but leave the list unless asked for.
      query = filter.status !== undefined ? query.where('status', '=', filter.status) : query.where('status', '!=', 'deleted');
      if (filter.cluster_id !== undefined) query = query.where('cluster_id', '=', filter.cluster_id);
      if (filter.type !== undefined) query = query.where('type', '=', filter.type);
      return newestFirst(query, 'id', page).execute();
    },

    async get(accountId: string, id: string, trx: Db = db): Promise<AppRow | undefined> {
      return trx.selectFrom('apps').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },

    /** Settings changes; false once the app is being deleted. */
    async update(accountId: string, id: string, changes: Partial<AppRow>): Promise<boolean> {
      const result = await db
        .updateTable('apps')
        .set(changes)
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('status', 'not in', [...GONE])
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Claims the app for one job (jobs/job-repo.ts claimForJob). */
    claimForJob(trx: Db, accountId: string, id: string, jobId: string, allowed: readonly AppStatus[], changes: Partial<AppRow>): Promise<boolean> {
      return claimForJob(trx, 'apps', { accountId, id }, jobId, allowed, changes);
    },

    /**
     * Takes the app's row lock for the rest of the transaction (a no-op write): concurrent requests on
     * one app then run one after the other, each reading what the previous one committed.
     */
    async lock(trx: Db, accountId: string, id: string): Promise<boolean> {
      const result = await trx
        .updateTable('apps')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Hands the app from one (queued) job to the job that supersedes it; false if another request got there first. */
    async handOver(trx: Db, accountId: string, id: string, fromJobId: string, toJobId: string, now: string): Promise<boolean> {
      const result = await trx
        .updateTable('apps')
        .set({ active_job_id: toJobId, updated_at: now })
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('active_job_id', '=', fromJobId)
        .where('status', 'not in', [...GONE])
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export type AppRepo = ReturnType<typeof createAppRepo>;

/** Gives the app back when its job ends (only if this job still holds it). */
export function releaseApp(trx: Db, appId: string, jobId: string, changes: Partial<AppRow>, now: string): Promise<void> {
  return releaseFromJob(trx, 'apps', appId, jobId, changes, now);
}

export async function getAppById(trx: Db, appId: string): Promise<AppRow> {
  return trx.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirstOrThrow();
}

export const toAppSpec = (row: AppRow): AppSpec => ({ id: row.id, name: row.name, type: row.type as AppType, image: row.image });
