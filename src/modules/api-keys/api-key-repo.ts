import { sql, type Selectable } from 'kysely';
import type { StoredKeyForAuth } from '../../auth/key-cache.js';
import { storedRateLimit } from '../../auth/rate-limits.js';
import { parseStoredResources } from '../../auth/resource-fence.js';
import { parseStoredScopeExpiry, parseStoredScopes } from '../../auth/scopes.js';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { ApiKeyTable } from '../../db/schema.js';

/**
 * The SQL of the api_keys table, and nothing else: caching, the digest filter, change announcements and
 * the write-behind of last_used_at belong to the key store (api-key-store.ts), the only caller of this file.
 */
export type ApiKeyRow = Selectable<ApiKeyTable>;

/** What a roll writes: the new secret's digest and display parts, and how long the old secret lives on. */
export interface RolledSecret {
  keyHash: string;
  prefix: string;
  lastFour: string;
  /** null: the old secret is refused at once. */
  graceEndsAt: string | null;
  /** The old secret also stops at the new one's first use (`retire_old: on_first_use`). */
  retiresOnFirstUse: boolean;
  at: string;
}

/** Rows read per page when the known-digests filter is filled. */
const DIGEST_SCAN_PAGE = 5_000;
/** Keys per last_used_at UPDATE statement (bounded parameter count on both databases). */
const LAST_USED_BATCH = 500;

const toDate = (value: string | null): Date | null => (value === null ? null : new Date(value));

const updated = (result: { numUpdatedRows: bigint }): boolean => Number(result.numUpdatedRows) === 1;

/** What PATCH /api-keys/{id} may change, as stored (scopes and allowed_ips as JSON text). */
export interface KeyUpdate {
  name?: string;
  scopes?: string;
  allowed_ips?: string | null;
  resources?: string | null;
  scope_expires_at?: string | null;
  rate_limit_requests?: number | null;
  rate_limit_per_seconds?: number | null;
}

export function createApiKeyRepo(db: Db) {
  // The lookup every cache miss makes (and every unknown key), built and compiled once; each call only
  // puts its digest where the placeholder was.
  const DIGEST_PLACEHOLDER = '\u0000digest';
  const findByDigestQuery = db
    .selectFrom('api_keys')
    .select([
      'id', 'account_id', 'name', 'scopes', 'created_by', 'key_hash', 'previous_expires_at', 'expires_at', 'revoked_at',
      'allowed_ips', 'resources', 'scope_expires_at', 'rate_limit_requests', 'rate_limit_per_seconds',
      'canary', 'previous_hash', 'previous_retires_on_first_use',
    ])
    .where((eb) => eb.or([eb('key_hash', '=', DIGEST_PLACEHOLDER), eb('previous_hash', '=', DIGEST_PLACEHOLDER)]))
    .limit(1)
    .compile();

  return {
    /** The key whose current or rolled-away secret has this digest. */
    async findByDigest(digest: string): Promise<StoredKeyForAuth | null> {
      const parameters = findByDigestQuery.parameters.map((value) => (value === DIGEST_PLACEHOLDER ? digest : value));
      const bound: typeof findByDigestQuery = { ...findByDigestQuery, parameters };
      const { rows } = await db.executeQuery(bound);
      const row = rows[0];
      if (row === undefined) return null;
      const current = row.key_hash === digest;
      return {
        id: row.id,
        accountId: row.account_id,
        name: row.name,
        scopes: parseStoredScopes(row.scopes),
        createdBy: row.created_by,
        // A match on the previous secret is valid only until its grace period ends.
        graceEndsAt: current ? null : (toDate(row.previous_expires_at) ?? new Date(0)),
        expiresAt: toDate(row.expires_at),
        revokedAt: toDate(row.revoked_at),
        allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
        resources: row.resources === null ? null : parseStoredResources(row.resources),
        scopeExpiresAt: row.scope_expires_at === null ? null : parseStoredScopeExpiry(row.scope_expires_at),
        rateLimit: storedRateLimit(row),
        canary: row.canary === 1,
        // The new secret of an on_first_use roll while the old one still works: its use retires the old.
        retiresPrevious:
          current && row.previous_retires_on_first_use === 1 && row.previous_hash !== null
            ? { digest, until: toDate(row.previous_expires_at) ?? new Date(0) }
            : null,
      };
    },

    /** How many digests are stored (current and rolled-away secrets). */
    async countDigests(): Promise<number> {
      const row = await db
        .selectFrom('api_keys')
        .select((eb) => [eb.fn.countAll<number | string | bigint>().as('keys'), eb.fn.count<number | string | bigint>('previous_hash').as('previous')])
        .executeTakeFirstOrThrow();
      return Number(row.keys) + Number(row.previous);
    },

    /** Calls `each` for every stored digest, a page at a time. */
    async scanDigests(each: (digest: string) => void): Promise<void> {
      let after = '';
      for (;;) {
        const rows = await db
          .selectFrom('api_keys')
          .select(['id', 'key_hash', 'previous_hash'])
          .where('id', '>', after)
          .orderBy('id')
          .limit(DIGEST_SCAN_PAGE)
          .execute();
        for (const row of rows) {
          each(row.key_hash);
          if (row.previous_hash !== null) each(row.previous_hash);
        }
        if (rows.length < DIGEST_SCAN_PAGE) return;
        after = rows[rows.length - 1]!.id;
      }
    },

    /** One statement per batch of keys, each with the instant of its own use. */
    async writeLastUsed(uses: ReadonlyArray<readonly [id: string, at: string]>): Promise<void> {
      for (let i = 0; i < uses.length; i += LAST_USED_BATCH) {
        const chunk = uses.slice(i, i + LAST_USED_BATCH);
        const cases = sql.join(chunk.map(([id, at]) => sql`when ${id} then ${at}`), sql` `);
        await db
          .updateTable('api_keys')
          .set({ last_used_at: sql<string>`case id ${cases} end` })
          .where('id', 'in', chunk.map(([id]) => id))
          .execute();
      }
    },

    async insert(trx: Db, row: ApiKeyRow): Promise<void> {
      await trx.insertInto('api_keys').values(row).execute();
    },

    async list(accountId: string, page: KeysetPage): Promise<ApiKeyRow[]> {
      return newestFirst(db.selectFrom('api_keys').selectAll().where('account_id', '=', accountId), 'id', page).execute();
    },

    async get(accountId: string, id: string): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },

    /**
     * Live keys created by `createdBy` and/or in `accountId` (at least one is given): the keys a user who
     * left an organisation, a deleted user or a deleted organisation leaves behind (Clerk webhooks).
     */
    async liveKeysOf(owner: { createdBy?: string; accountId?: string }): Promise<Array<{ id: string; account_id: string }>> {
      if (owner.createdBy === undefined && owner.accountId === undefined) throw new Error('liveKeysOf needs a creator or an account');
      let query = db.selectFrom('api_keys').select(['id', 'account_id']).where('revoked_at', 'is', null);
      if (owner.createdBy !== undefined) query = query.where('created_by', '=', owner.createdBy);
      if (owner.accountId !== undefined) query = query.where('account_id', '=', owner.accountId);
      return query.orderBy('id').execute();
    },

    /** Sets revoked_at once (a second revoke keeps the first instant); true when this call revoked it. */
    async revoke(trx: Db, accountId: string, id: string, at: string, reason: string): Promise<boolean> {
      const result = await trx
        .updateTable('api_keys')
        .set({ revoked_at: at, revoked_reason: reason, previous_hash: null, previous_expires_at: null, previous_retires_on_first_use: 0 })
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return updated(result);
    },

    /** Renames and/or re-scopes a live key; true when a live key of the account was changed. */
    async update(trx: Db, accountId: string, id: string, fields: KeyUpdate): Promise<boolean> {
      const result = await trx
        .updateTable('api_keys')
        .set(fields)
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return updated(result);
    },

    /**
     * Swaps in a new secret. The old digest stays usable until `graceEndsAt`; a secret rolled away earlier
     * is dropped. Conditional on the key being live and still on `expectedHash`, so a concurrent revoke or
     * roll wins; true when this call rolled it.
     */
    async roll(trx: Db, accountId: string, id: string, next: RolledSecret, expectedHash: string): Promise<boolean> {
      const result = await trx
        .updateTable('api_keys')
        .set({
          previous_hash: next.graceEndsAt === null ? null : expectedHash,
          previous_expires_at: next.graceEndsAt,
          previous_retires_on_first_use: next.graceEndsAt !== null && next.retiresOnFirstUse ? 1 : 0,
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
      return updated(result);
    },

    /**
     * Drops the rolled-away secret of a key rolled with `retire_old: on_first_use`, once its new secret
     * (`currentHash`) has been used. Conditional on the key still being on that secret with the old one
     * pending, so a concurrent roll, revoke or second retire wins; true when this call retired it.
     */
    async retirePrevious(trx: Db, id: string, currentHash: string): Promise<boolean> {
      const result = await trx
        .updateTable('api_keys')
        .set({ previous_hash: null, previous_expires_at: null, previous_retires_on_first_use: 0 })
        .where('id', '=', id)
        .where('key_hash', '=', currentHash)
        .where('previous_retires_on_first_use', '=', 1)
        .where('previous_hash', 'is not', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return updated(result);
    },
  };
}

export type ApiKeyRepo = ReturnType<typeof createApiKeyRepo>;
