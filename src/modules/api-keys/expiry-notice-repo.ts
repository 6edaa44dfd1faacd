import { sql } from 'kysely';
import type { Db } from '../../db/database.js';

/** A live key due an expiry notice. */
export interface KeyDueNotice {
  id: string;
  account_id: string;
  name: string;
  expires_at: string | null;
}

/** The SQL of the expiry notices (expiry-notices.ts): live keys expiring within a window that have not had a notice. */
export function createExpiryNoticeRepo(db: Db) {
  return {
    /**
     * Live keys (canaries too: their owner should know the tripwire lapses) expiring in (from, until] whose
     * notice `name` is not stored yet, by id after `after`. The notice's dedupe key is built the same way
     * here and by the caller: `api_key.expiring:<name>:<key id>:<expires_at>`.
     */
    async due(notice: string, window: { from: string; until: string }, after: string, limit: number): Promise<KeyDueNotice[]> {
      const dedupe = sql<string>`${`api_key.expiring:${notice}:`} || api_keys.id || ${':'} || api_keys.expires_at`;
      return db
        .selectFrom('api_keys')
        .select(['id', 'account_id', 'name', 'expires_at'])
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', window.from)
        .where('expires_at', '<=', window.until)
        .where('id', '>', after)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('events').select('events.id').where('events.dedupe_key', '=', dedupe))))
        .orderBy('id')
        .limit(limit)
        .execute();
    },
  };
}

export const expiryNoticeKey = (notice: string, keyId: string, expiresAt: string): string => `api_key.expiring:${notice}:${keyId}:${expiresAt}`;
