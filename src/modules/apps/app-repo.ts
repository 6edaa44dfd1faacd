import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { AppTable, DeployTable } from '../../db/schema.js';
import type { AppSpec } from '../../infra/driver.js';
import { claimForJob, releaseFromJob } from '../jobs/job-repo.js';
import type { JobRow } from '../jobs/job-types.js';

export type AppRow = Selectable<AppTable>;
export type DeployRow = Selectable<DeployTable>;

export const APP_TYPES = ['airflow', 'service'] as const;
export type AppType = (typeof APP_TYPES)[number];

export const APP_STATUSES = ['pending', 'deploying', 'running', 'restarting', 'deleting', 'deleted', 'failed'] as const;
export type AppStatus = (typeof APP_STATUSES)[number];

/** Statuses in which the app is on its way out: nothing may start on it any more. */
export const GONE: readonly AppStatus[] = ['deleting', 'deleted'];

export const DEPLOY_STATUSES = ['queued', 'in_progress', 'succeeded', 'failed', 'superseded', 'canceled'] as const;
export type DeployStatus = (typeof DEPLOY_STATUSES)[number];
/** A deploy in one of these is settled; job hooks never move it again. */
const OPEN_DEPLOY: readonly DeployStatus[] = ['queued', 'in_progress'];

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

    async list(accountId: string, filter: AppFilter, page: KeysetPage): Promise<AppRow[]> {
      let query = db.selectFrom('apps').selectAll().where('account_id', '=', accountId);
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

    /**
     * Takes the cluster's row lock for the rest of the transaction (a no-op write) when it is running
     * and no job holds it, so an app created now and a concurrent destroy cannot both succeed: the
     * destroy counts live apps after it has claimed the same row.
     */
    async lockRunningCluster(trx: Db, accountId: string, clusterId: string): Promise<boolean> {
      const result = await trx
        .updateTable('clusters')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('account_id', '=', accountId)
        .where('id', '=', clusterId)
        .where('status', '=', 'running')
        .where('active_job_id', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async insertDeploy(trx: Db, row: DeployRow): Promise<void> {
      await trx.insertInto('deploys').values(row).execute();
    },

    async latestDeployId(trx: Db, appId: string): Promise<string | null> {
      const row = await trx.selectFrom('deploys').select('id').where('app_id', '=', appId).orderBy('id', 'desc').limit(1).executeTakeFirst();
      return row?.id ?? null;
    },

    async listDeploys(accountId: string, appId: string, page: KeysetPage): Promise<DeployRow[]> {
      return newestFirst(db.selectFrom('deploys').selectAll().where('account_id', '=', accountId).where('app_id', '=', appId), 'id', page).execute();
    },

    async getDeploy(accountId: string, appId: string, id: string): Promise<DeployRow | undefined> {
      return db
        .selectFrom('deploys')
        .selectAll()
        .where('account_id', '=', accountId)
        .where('app_id', '=', appId)
        .where('id', '=', id)
        .executeTakeFirst();
    },

    async jobOf(trx: Db, jobId: string): Promise<JobRow | undefined> {
      return trx.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
    },

    /** The superseded job says why it was canceled, for whoever follows it through GET /jobs. */
    async noteSuperseded(trx: Db, jobId: string, byDeployId: string): Promise<void> {
      await trx.updateTable('jobs').set({ error_message: `Superseded by deploy ${byDeployId} before it started.` }).where('id', '=', jobId).execute();
    },
  };
}

export type AppRepo = ReturnType<typeof createAppRepo>;

/** Gives the app back when its job ends (only if this job still holds it). */
export function releaseApp(trx: Db, appId: string, jobId: string, changes: Partial<AppRow>, now: string): Promise<void> {
  return releaseFromJob(trx, 'apps', appId, jobId, changes, now);
}

/** Moves a deploy to where its job ended; a deploy already settled (superseded, say) stays as it is. */
export async function settleDeploy(trx: Db, deployId: string, changes: Partial<DeployRow>, now: string): Promise<void> {
  await trx
    .updateTable('deploys')
    .set({ ...changes, updated_at: now })
    .where('id', '=', deployId)
    .where('status', 'in', [...OPEN_DEPLOY])
    .execute();
}

export async function getDeployById(trx: Db, deployId: string): Promise<DeployRow | undefined> {
  return trx.selectFrom('deploys').selectAll().where('id', '=', deployId).executeTakeFirst();
}

export async function getAppById(trx: Db, appId: string): Promise<AppRow> {
  return trx.selectFrom('apps').selectAll().where('id', '=', appId).executeTakeFirstOrThrow();
}

/**
 * PostgreSQL aborted the transaction to break a lock cycle or a serialization conflict (e.g. a deploy
 * and a job cancel taking the same app and job rows in opposite orders); running it again is safe.
 */
export function isTransientConflict(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === '40P01' || code === '40001';
}

export const toAppSpec = (row: AppRow): AppSpec => ({ id: row.id, name: row.name, type: row.type as AppType, image: row.image });
