import type { Db } from '../../db/database.js';
import type { TerminalSessionTable } from '../../db/schema.js';

export type TerminalSessionRow = TerminalSessionTable;

export function createTerminalRepo(db: Db) {
  return {
    /** Expiry instants of the cluster's sessions whose token has not expired yet, soonest first. */
    async liveExpiries(trx: Db, clusterId: string, now: string): Promise<string[]> {
      const rows = await trx
        .selectFrom('terminal_sessions')
        .select('expires_at')
        .where('cluster_id', '=', clusterId)
        .where('expires_at', '>', now)
        .orderBy('expires_at')
        .execute();
      return rows.map((row) => row.expires_at);
    },

    async insert(trx: Db, row: TerminalSessionRow): Promise<void> {
      await trx.insertInto('terminal_sessions').values(row).execute();
    },

    async setPod(id: string, pod: string, namespace: string): Promise<void> {
      await db.updateTable('terminal_sessions').set({ pod, namespace }).where('id', '=', id).execute();
    },

    async remove(id: string): Promise<void> {
      await db.deleteFrom('terminal_sessions').where('id', '=', id).execute();
    },

    /**
     * Spends a token: one conditional write, so of two concurrent redeems exactly one wins. A session
     * whose pod is not ready yet (pod '') cannot be redeemed.
     */
    async redeem(tokenHash: string, now: string): Promise<TerminalSessionRow | undefined> {
      const result = await db
        .updateTable('terminal_sessions')
        .set({ used_at: now })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .where('pod', '!=', '')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return undefined;
      return db.selectFrom('terminal_sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    },
  };
}

export type TerminalRepo = ReturnType<typeof createTerminalRepo>;
