import type { ResourceFence } from '../../auth/resource-fence.js';
import type { Db } from '../../db/database.js';
import { visibleApps } from '../../db/fence-sql.js';

/** Apps on their way out: no registry access, and no credentials (app-credentials reads this list too). */
export const CLOSED_APP_STATUSES: readonly string[] = ['deleting', 'deleted'];

export function createRegistryRepo(db: Db) {
  return {
    /**
     * Which of these app names have a live app in the account (names are lower-case DNS labels); with a
     * fence, only apps it lets the key see (listed, or on a listed cluster).
     */
    async liveAppNames(accountId: string, names: readonly string[], fence: ResourceFence | null = null): Promise<Set<string>> {
      if (names.length === 0) return new Set();
      let query = db
        .selectFrom('apps')
        .select('name')
        .where('account_id', '=', accountId)
        .where('name', 'in', [...names])
        .where('deleted_at', 'is', null)
        .where('status', 'not in', [...CLOSED_APP_STATUSES]);
      if (fence !== null) query = query.where((eb) => eb.or(visibleApps(eb, fence)));
      const rows = await query.execute();
      return new Set(rows.map((row) => row.name));
    },
  };
}
