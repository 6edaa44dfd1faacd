import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { GithubIntegrationTable } from '../../db/schema.js';

export type GithubIntegrationRow = Selectable<GithubIntegrationTable>;

export type GithubSettings = Pick<GithubIntegrationRow, 'installation_id' | 'repository' | 'branch' | 'dag_path' | 'connected_by'>;

/** One integration per account: the account id is the table's primary key. */
export function createGithubRepo(db: Db) {
  return {
    async get(accountId: string): Promise<GithubIntegrationRow | undefined> {
      return db.selectFrom('github_integrations').selectAll().where('account_id', '=', accountId).executeTakeFirst();
    },

    /**
     * Connects or replaces, and says which. The insert either wins the primary key or does nothing
     * (atomic on both databases, so two racing requests cannot both "create"); the loser updates.
     * A disconnect landing between the two statements leaves nothing to update: try again.
     */
    async upsert(accountId: string, settings: GithubSettings, now: string): Promise<{ row: GithubIntegrationRow; created: boolean }> {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const inserted = await db
          .insertInto('github_integrations')
          .values({ account_id: accountId, ...settings, created_at: now, updated_at: now })
          .onConflict((oc) => oc.column('account_id').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted) return { row: inserted, created: true };
        const updated = await db
          .updateTable('github_integrations')
          .set({ ...settings, updated_at: now })
          .where('account_id', '=', accountId)
          .returningAll()
          .executeTakeFirst();
        if (updated) return { row: updated, created: false };
      }
      throw new Error('GitHub integration upsert kept racing with a disconnect');
    },

    async remove(accountId: string): Promise<boolean> {
      const result = await db.deleteFrom('github_integrations').where('account_id', '=', accountId).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}
