import type { Db } from '../../db/database.js';

/** Apps on their way out: no registry access, and no credentials (app-credentials reads this list too). */
export const CLOSED_APP_STATUSES: readonly string[] = ['deleting', 'deleted'];

export function createRegistryRepo(db: Db) {
  return {
    /** Which of these app names have a live app in the account (names are lower-case DNS labels). */
    async liveAppNames(accountId: string, names: readonly string[]): Promise<Set<string>> {
      if (names.length === 0) return new Set();
      const rows = await db
        .selectFrom('apps')
        .select('name')
        .where('account_id', '=', accountId)
        .where('name', 'in', [...names])
        .where('deleted_at', 'is', null)
        .where('status', 'not in', [...CLOSED_APP_STATUSES])
        .execute();
      return new Set(rows.map((row) => row.name));
    },
  };
}
