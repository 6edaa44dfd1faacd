import type { Db } from '../../db/database.js';
import type { DevCredentialTable } from '../../db/schema.js';

/**
 * The few facts about an application that its credentials need, read straight from the `apps` table
 * (owned by the apps module) so this module depends on the table, not on that module's code.
 */
export interface AppForCredentials {
  id: string;
  account_id: string;
  cluster_id: string;
  name: string;
  type: 'airflow' | 'service';
  status: string;
  cluster_endpoint: string | null;
}

export function createAppCredentialRepo(db: Db) {
  return {
    /** A live app of this account, or undefined: another account's app is as absent as a missing one. */
    async findLiveApp(accountId: string, appId: string): Promise<AppForCredentials | undefined> {
      const row = await db
        .selectFrom('apps')
        .innerJoin('clusters', 'clusters.id', 'apps.cluster_id')
        .select(['apps.id', 'apps.account_id', 'apps.cluster_id', 'apps.name', 'apps.type', 'apps.status', 'clusters.endpoint as cluster_endpoint'])
        .where('apps.account_id', '=', accountId)
        .where('apps.id', '=', appId)
        .where('apps.deleted_at', 'is', null)
        .executeTakeFirst();
      if (!row) return undefined;
      return { ...row, type: row.type === 'airflow' ? 'airflow' : 'service' };
    },

    async recordDevCredential(row: DevCredentialTable): Promise<void> {
      await db.insertInto('dev_credentials').values(row).execute();
    },
  };
}

export type AppCredentialRepo = ReturnType<typeof createAppCredentialRepo>;
