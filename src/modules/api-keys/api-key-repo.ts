import type { Selectable } from 'kysely';
import type { KeyLookup, StoredKeyForAuth } from '../../auth/authenticator.js';
import { isScope, type Scope } from '../../auth/scopes.js';
import type { Db } from '../../db/database.js';
import type { ApiKeyTable } from '../../db/schema.js';
import type { PageRequest } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';

export type ApiKeyRow = Selectable<ApiKeyTable>;

/** How often at most `last_used_at` is written for one key: reads are frequent, this column is a hint. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export function parseScopes(stored: string): Scope[] {
  const parsed: unknown = JSON.parse(stored);
  return Array.isArray(parsed) ? parsed.filter(isScope) : [];
}

const toDate = (value: string | null): Date | null => (value === null ? null : new Date(value));

export function createApiKeyRepo(db: Db, clock: Clock) {
  const lastWritten = new Map<string, number>();
  const pending = new Map<string, string>();
  let flushing: Promise<void> | null = null;

  async function flushLastUsed(): Promise<void> {
    if (pending.size === 0) return;
    const batch = [...pending];
    pending.clear();
    for (const [id, at] of batch) {
      await db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
    }
  }

  const authLookup: KeyLookup = {
    async findByDigest(digest): Promise<StoredKeyForAuth | null> {
      const row = await db
        .selectFrom('api_keys')
        .selectAll()
        .where((eb) => eb.or([eb('key_hash', '=', digest), eb('previous_hash', '=', digest)]))
        .executeTakeFirst();
      if (!row) return null;
      return {
        id: row.id,
        accountId: row.account_id,
        name: row.name,
        scopes: parseScopes(row.scopes),
        createdBy: row.created_by,
        // A match on the previous secret is valid only until its grace period ends.
        graceEndsAt: row.key_hash === digest ? null : (toDate(row.previous_expires_at) ?? new Date(0)),
        expiresAt: toDate(row.expires_at),
        revokedAt: toDate(row.revoked_at),
      };
    },
    noteUsed(keyId) {
      const now = clock.now();
      const last = lastWritten.get(keyId) ?? 0;
      if (now.getTime() - last < LAST_USED_WRITE_INTERVAL_MS) return;
      lastWritten.set(keyId, now.getTime());
      pending.set(keyId, now.toISOString());
      // Written behind the request, batched; a failure only loses a usage hint.
      flushing ??= flushLastUsed()
        .catch(() => undefined)
        .finally(() => {
          flushing = null;
        });
    },
  };

  return {
    authLookup,
    async flushLastUsed(): Promise<void> {
      await flushing;
      await flushLastUsed();
    },

    async insert(row: ApiKeyRow): Promise<void> {
      await db.insertInto('api_keys').values(row).execute();
    },

    async list(accountId: string, page: PageRequest): Promise<ApiKeyRow[]> {
      let query = db.selectFrom('api_keys').selectAll().where('account_id', '=', accountId);
      if (page.afterId !== null) query = query.where('id', '<', page.afterId);
      return query.orderBy('id', 'desc').limit(page.limit + 1).execute();
    },

    async get(accountId: string, id: string): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },

    /** Sets revoked_at once; a second revoke keeps the first instant. */
    async revoke(accountId: string, id: string, at: string): Promise<void> {
      await db
        .updateTable('api_keys')
        .set({ revoked_at: at, previous_hash: null, previous_expires_at: null })
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    },

    /**
     * Swaps in a new secret. The old digest stays usable until `graceEndsAt` (null: refused at once);
     * a secret rolled away earlier is dropped. Conditional on the key being live, so a concurrent
     * revoke wins.
     */
    async roll(
      accountId: string,
      id: string,
      next: { keyHash: string; prefix: string; lastFour: string; graceEndsAt: string | null; at: string },
      expectedHash: string,
    ): Promise<boolean> {
      const result = await db
        .updateTable('api_keys')
        .set({
          previous_hash: next.graceEndsAt === null ? null : expectedHash,
          previous_expires_at: next.graceEndsAt,
          key_hash: next.keyHash,
          prefix: next.prefix,
          last_four: next.lastFour,
          rolled_at: next.at,
        })
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('key_hash', '=', expectedHash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
  };
}

export type ApiKeyRepo = ReturnType<typeof createApiKeyRepo>;
