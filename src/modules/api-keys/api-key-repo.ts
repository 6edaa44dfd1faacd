import { sql, type Selectable } from 'kysely';
import type { KeyLookup, StoredKeyForAuth } from '../../auth/authenticator.js';
import { encodeKeyChange, type KeyCache, type KeyChange } from '../../auth/key-cache.js';
import type { KnownDigests, KnownDigestsSource } from '../../auth/known-digests.js';
import { isScope, type Scope } from '../../auth/scopes.js';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { ApiKeyTable } from '../../db/schema.js';

export type ApiKeyRow = Selectable<ApiKeyTable>;

/** How often at most `last_used_at` is written for one key: reads are frequent, this column is a hint. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;
/** Uses noted within this delay are written together, in one statement. */
export const LAST_USED_FLUSH_DELAY_MS = 500;
/** Keys per UPDATE statement (bounded parameter count on both databases). */
const LAST_USED_BATCH = 500;
/** Above this many remembered keys, entries older than the interval are dropped at each flush. */
const LAST_WRITTEN_PRUNE_AT = 10_000;

export function parseScopes(stored: string): Scope[] {
  const parsed: unknown = JSON.parse(stored);
  return Array.isArray(parsed) ? parsed.filter(isScope) : [];
}

const toDate = (value: string | null): Date | null => (value === null ? null : new Date(value));

export interface ApiKeyRepoDeps {
  db: Db;
  /** Verified keys of this instance: evicted here after each change commits. */
  cache: KeyCache;
  /** Tells the other instances, in the change's own transaction. */
  publish: (trx: Db, payload: string) => Promise<void>;
  /** Refuses digests that are certainly not stored without a query; only where one process owns the database. */
  knownDigests?: KnownDigests | null;
}

/** Rows read per page when the known-digests filter is filled. */
const DIGEST_SCAN_PAGE = 5_000;

/** The stored digests, for the known-digests filter: every current and rolled-away secret. */
export function storedDigests(db: Db): KnownDigestsSource {
  return {
    async count() {
      const row = await db
        .selectFrom('api_keys')
        .select((eb) => [eb.fn.countAll<number | string | bigint>().as('keys'), eb.fn.count<number | string | bigint>('previous_hash').as('previous')])
        .executeTakeFirstOrThrow();
      return Number(row.keys) + Number(row.previous);
    },
    async scan(each) {
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
  };
}

export function createApiKeyRepo({ db, cache, publish, knownDigests = null }: ApiKeyRepoDeps) {
  const lastWritten = new Map<string, number>();
  const pending = new Map<string, string>();
  let latestUse = 0;
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();

  /** One statement per batch of keys, each with the instant of its own use. */
  async function writeLastUsed(): Promise<void> {
    if (pending.size === 0) return;
    const batch = [...pending];
    pending.clear();
    for (let i = 0; i < batch.length; i += LAST_USED_BATCH) {
      const chunk = batch.slice(i, i + LAST_USED_BATCH);
      const cases = sql.join(chunk.map(([id, at]) => sql`when ${id} then ${at}`), sql` `);
      await db
        .updateTable('api_keys')
        .set({ last_used_at: sql<string>`case id ${cases} end` })
        .where('id', 'in', chunk.map(([id]) => id))
        .execute();
    }
    if (lastWritten.size > LAST_WRITTEN_PRUNE_AT) {
      const cutoff = latestUse - LAST_USED_WRITE_INTERVAL_MS;
      for (const [id, at] of lastWritten) if (at < cutoff) lastWritten.delete(id);
    }
  }

  function scheduleFlush(): void {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      // Written behind the requests; a failure only loses a usage hint.
      flushing = flushing.then(writeLastUsed).catch(() => undefined);
    }, LAST_USED_FLUSH_DELAY_MS);
    timer.unref();
  }

  /** Runs `change` and its notification in one transaction, then evicts locally: after the commit. */
  async function changeKey<T>(change: (trx: Db) => Promise<{ result: T; notify: KeyChange | null }>): Promise<T> {
    const { result, notify } = await db.transaction().execute(async (trx) => {
      const outcome = await change(trx);
      if (outcome.notify !== null) await publish(trx, encodeKeyChange(outcome.notify));
      return outcome;
    });
    if (notify !== null) {
      // Before the new secret is returned to anyone: from now on it must not be answered "unknown".
      for (const digest of notify.newDigests) knownDigests?.add(digest);
      cache.apply(notify);
    }
    return result;
  }

  // The lookup every cache miss makes (and every unknown key), built and compiled once; each call only
  // puts its digest where the placeholder was.
  const DIGEST_PLACEHOLDER = '\u0000digest';
  const findByDigestQuery = db
    .selectFrom('api_keys')
    .select(['id', 'account_id', 'name', 'scopes', 'created_by', 'key_hash', 'previous_expires_at', 'expires_at', 'revoked_at'])
    .where((eb) => eb.or([eb('key_hash', '=', DIGEST_PLACEHOLDER), eb('previous_hash', '=', DIGEST_PLACEHOLDER)]))
    .limit(1)
    .compile();

  const authLookup: KeyLookup = {
    ...(knownDigests === null ? {} : { certainlyUnknown: (digest: string) => !knownDigests.mightExist(digest) }),
    async findByDigest(digest): Promise<StoredKeyForAuth | null> {
      const parameters = findByDigestQuery.parameters.map((value) => (value === DIGEST_PLACEHOLDER ? digest : value));
      const bound: typeof findByDigestQuery = { ...findByDigestQuery, parameters };
      const { rows } = await db.executeQuery(bound);
      const row = rows[0];
      if (row === undefined) return null;
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
    noteUsed(keyId, atMs) {
      const last = lastWritten.get(keyId);
      if (last !== undefined && atMs - last < LAST_USED_WRITE_INTERVAL_MS) return;
      lastWritten.set(keyId, atMs);
      if (atMs > latestUse) latestUse = atMs;
      pending.set(keyId, new Date(atMs).toISOString());
      scheduleFlush();
    },
  };

  return {
    authLookup,
    /** Writes every use noted so far (shutdown calls this). */
    async flushLastUsed(): Promise<void> {
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await flushing;
      await writeLastUsed();
    },

    async insert(row: ApiKeyRow): Promise<void> {
      await changeKey(async (trx) => {
        await trx.insertInto('api_keys').values(row).execute();
        return { result: undefined, notify: { keyId: row.id, newDigests: [row.key_hash] } };
      });
    },

    async list(accountId: string, page: KeysetPage): Promise<ApiKeyRow[]> {
      return newestFirst(db.selectFrom('api_keys').selectAll().where('account_id', '=', accountId), 'id', page).execute();
    },

    async get(accountId: string, id: string): Promise<ApiKeyRow | undefined> {
      return db.selectFrom('api_keys').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    },

    /** Sets revoked_at once; a second revoke keeps the first instant. */
    async revoke(accountId: string, id: string, at: string): Promise<void> {
      await changeKey(async (trx) => {
        const result = await trx
          .updateTable('api_keys')
          .set({ revoked_at: at, previous_hash: null, previous_expires_at: null })
          .where('account_id', '=', accountId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        return { result: undefined, notify: Number(result.numUpdatedRows) === 1 ? { keyId: id, newDigests: [] } : null };
      });
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
      return changeKey(async (trx) => {
        const result = await trx
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
        const rolled = Number(result.numUpdatedRows) === 1;
        return { result: rolled, notify: rolled ? { keyId: id, newDigests: [next.keyHash] } : null };
      });
    },
  };
}

export type ApiKeyRepo = ReturnType<typeof createApiKeyRepo>;
