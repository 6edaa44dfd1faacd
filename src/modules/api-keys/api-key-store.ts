import { createSecretKey } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { digestApiKey, displayParts, generateApiKey } from '../../auth/api-key-format.js';
import type { KeyLookup } from '../../auth/authenticator.js';
import { decodeKeyChange, encodeKeyChange, KeyCache, keyLookupId, type KeyCacheCounts, type KeyChange } from '../../auth/key-cache.js';
import { KnownDigests } from '../../auth/known-digests.js';
import type { Config } from '../../config.js';
import type { DatabaseHandle, Db } from '../../db/database.js';
import type { KeysetPage } from '../../db/keyset.js';
import { createChangeFeed, type ChangeFeedOptions } from '../../db/notifications.js';
import type { EventLog } from '../events/event-log.js';
import type { Actor, EventData, EventInput, EventType } from '../events/event-types.js';
import { createApiKeyRepo, type ApiKeyRow, type KeyUpdate } from './api-key-repo.js';
import { LastUsedWriter } from './last-used.js';

/** The channel on which instances announce API key changes (payload: auth/key-cache.ts encodeKeyChange). */
export const API_KEY_CHANNEL = 'skaledata_api_keys';

/** What the caller decides about a new key; the store makes its secret. */
export type NewApiKey = Pick<
  ApiKeyRow,
  'id' | 'account_id' | 'name' | 'scopes' | 'created_at' | 'created_by' | 'expires_at' | 'allowed_ips' | 'resources' | 'scope_expires_at' | 'rate_limit_requests' | 'rate_limit_per_seconds' | 'canary'
>;

/** Why a key is revoked: by a user, found leaked (GitHub secret scanning), or its creator left (Clerk). */
export type RevokeReason = 'revoked' | 'leaked' | 'owner_removed';

const REVOKE_EVENTS: Record<RevokeReason, EventType> = { revoked: 'api_key.revoked', leaked: 'api_key.leaked', owner_removed: 'api_key.owner_removed' };

/** Who revokes a key and why, as its event records it. */
export interface RevokeCause {
  by: Actor;
  reason: RevokeReason;
  /** More facts for the event (where a leaked key was found). */
  data?: EventData;
}

export interface ApiKeyStore {
  /** How the authenticator finds keys: from the cache, the digest filter, or the database. */
  readonly lookup: KeyLookup;
  /** Stores a new key and returns it with its secret, which is nowhere else (shown once, never stored). */
  create(key: NewApiKey, by: Actor): Promise<{ row: ApiKeyRow; secret: string }>;
  /** Renames, re-scopes or re-fences a live key (lists as stored: JSON); false when no live key of the account has this id. */
  update(accountId: string, id: string, fields: KeyUpdate, by: Actor): Promise<boolean>;
  /** Revokes a live key (a revoked one keeps its first revocation instant and reason); true when this call revoked it. */
  revoke(accountId: string, id: string, at: string, cause: RevokeCause): Promise<boolean>;
  /**
   * Gives a live key still on `expectedHash` a new secret; the old one is accepted until `graceEndsAt`
   * (null: refused at once). Null when the key changed meanwhile (revoked, rolled by someone else).
   */
  roll(accountId: string, id: string, roll: { graceEndsAt: string | null; retiresOnFirstUse: boolean; at: string }, expectedHash: string, by: Actor): Promise<string | null>;
  /**
   * A secret found in public (GitHub secret scanning): the key it is the current or rolled-away secret of
   * is revoked with reason `leaked`. A key revoked before still gets its `api_key.leaked` event (data:
   * `already_revoked: true`), so the account learns where its secret was seen. Null when no key has it.
   */
  revokeLeaked(secret: string, at: string, found: { by: Actor; data: EventData }): Promise<{ accountId: string; keyId: string; wasLive: boolean } | null>;
  /** Live keys created by a user and/or in an account (Clerk webhooks: who left, what they leave behind). */
  liveKeysOf(owner: { createdBy?: string; accountId?: string }): Promise<Array<{ id: string; account_id: string }>>;
  list(accountId: string, page: KeysetPage): Promise<ApiKeyRow[]>;
  get(accountId: string, id: string): Promise<ApiKeyRow | undefined>;
  /** What the key cache answered since start, and what it holds now (GET /metrics). */
  cacheStats(): { counts: KeyCacheCounts; entries: { known: number; unknown: number } };
  /** Starts hearing other instances' changes (onReady); the cache stays suspended until it does. */
  start(log: FastifyBaseLogger): Promise<void>;
  /** Writes the last uses noted and stops hearing changes (onClose). */
  stop(): Promise<void>;
}

export interface ApiKeyStoreDeps {
  database: Pick<DatabaseHandle, 'db' | 'capabilities' | 'commitsElsewhere'>;
  config: Pick<Config, 'database' | 'authCache'>;
  /** The audit trail: every key change records its event in the change's own transaction. */
  events: Pick<EventLog, 'record'>;
  /** HMAC pepper for the stored digests (kept out of the database). */
  pepper: Buffer;
  feed?: ChangeFeedOptions;
}

/**
 * The one owner of API keys at run time. It keeps every key answer exact while serving most of them from
 * memory, and it is the only code that writes a key:
 * - the cache of verified keys and of digests that matched nothing (auth/key-cache.ts);
 * - a filter of the stored digests that refuses invented keys without a lookup (auth/known-digests.ts).
 *   It must never refuse a stored key. This instance adds a digest after its commit and before its secret
 *   is shown (`create` and `roll` are the only writers of digests: the repository is imported by this file
 *   alone). Other instances' digests (PostgreSQL) arrive on the change feed; one may be presented here
 *   before its notification, so on PostgreSQL a "certainly not" is only believed after the feed's barrier
 *   (every notification committed before it has been heard), which requests arriving together share;
 * - the change feed: every write is announced in its own transaction (PostgreSQL NOTIFY) and evicted here
 *   after the commit, so every instance refuses a revoked or rolled key within the bound of CONTRACT §4;
 * - `last_used_at`, written behind the requests (last-used.ts).
 */
export function createApiKeyStore(deps: ApiKeyStoreDeps): ApiKeyStore {
  const { db } = deps.database;
  const repo = createApiKeyRepo(db);
  const settings = deps.config.authCache;
  const cache = new KeyCache({ maxKeys: settings.maxKeys, maxUnknown: settings.maxUnknownKeys, ttlMs: settings.ttlMs });
  const knownDigests = new KnownDigests({ count: () => repo.countDigests(), scan: (each) => repo.scanDigests(each) });
  // Other instances write keys (PostgreSQL): the filter's "no" waits for the change feed to catch up.
  const othersWriteKeys = deps.database.capabilities.sharedByInstances;
  const lastUsed = new LastUsedWriter((uses) => repo.writeLastUsed(uses));
  // Imported once: HMAC with a prepared key object costs about a third less than with raw bytes.
  const pepper = createSecretKey(deps.pepper);
  const feed = createChangeFeed(
    deps.config.database,
    deps.database,
    API_KEY_CHANNEL,
    {
      onMessage: (payload) => {
        const change = decodeKeyChange(payload);
        // A payload we cannot read still means "something changed": forget everything, and trust no "no".
        if (change === null) {
          cache.clear();
          knownDigests.markStale();
          return;
        }
        // Keys stored by other instances (this one's own were added before their secrets were shown).
        for (const digest of change.newDigests) knownDigests.add(digest);
        cache.apply(change);
      },
      onSuspend: () => cache.suspend(),
      onReset: () => {
        cache.resume();
        // Changes may have gone unheard (PostgreSQL: the LISTEN connection was down; SQLite: another
        // process wrote to the file). The first reset at start also lands here, before the fill.
        knownDigests.markStale();
      },
    },
    deps.feed,
  );
  const findByDigest = (digest: string) => repo.findByDigest(digest);
  /** Retires in flight, per key: concurrent first uses of a new secret share one write. */
  const retiring = new Map<string, Promise<void>>();

  /**
   * Runs `write`, its event and its announcement in one transaction (a change is never stored without
   * its event, nor an event without its change); after the commit, this instance's caches learn it.
   */
  async function change(write: (trx: Db) => Promise<KeyChange | null>, event: EventInput): Promise<boolean> {
    const announced = await db.transaction().execute(async (trx) => {
      const changed = await write(trx);
      if (changed === null) return null;
      await deps.events.record(trx, event);
      await feed.publish(trx, encodeKeyChange(changed));
      return changed;
    });
    if (announced === null) return false;
    // Before the new secret is returned to anyone: from now on it must not be answered "unknown".
    for (const digest of announced.newDigests) knownDigests.add(digest);
    cache.apply(announced);
    return true;
  }

  const keyEvent = (type: EventType, accountId: string, keyId: string, by: Actor, data: EventData): EventInput => ({
    accountId,
    type,
    actor: by,
    subject: { type: 'api_key', id: keyId },
    data,
  });

  const newSecret = () => {
    const secret = generateApiKey();
    const { prefix, lastFour } = displayParts(secret);
    return { secret, digest: digestApiKey(secret, pepper), prefix, lastFour };
  };

  const store: ApiKeyStore = {
    lookup: {
      find(key) {
        const lookup = keyLookupId(key);
        const cached = cache.get(lookup);
        if (cached !== undefined) {
          // A canary costs what an unknown key costs (no timing an outsider could measure): where the
          // digest filter turns unknown keys away, they pay for the digest and the filter, so a canary does too.
          if (cached !== null && cached.canary !== null) knownDigests.mightExist(digestApiKey(key, pepper));
          return cached;
        }
        // Only a miss pays for the peppered digest the database is searched by.
        const digest = digestApiKey(key, pepper);
        if (knownDigests.mightExist(digest)) return cache.load(lookup, digest, findByDigest);
        if (!othersWriteKeys) return null;
        // Stored elsewhere a moment ago, its notification may still be on its way: ask again once the
        // feed has heard everything committed before now (or look it up when it cannot say).
        return feed.barrier().then((caughtUp) => (caughtUp && !knownDigests.mightExist(digest) ? null : cache.load(lookup, digest, findByDigest)));
      },
      noteUsed: (keyId, atMs) => lastUsed.note(keyId, atMs),
      retirePrevious(entry) {
        const { keyId } = entry;
        const retires = entry.retiresPrevious;
        if (retires === null) return Promise.resolve();
        let pending = retiring.get(keyId);
        if (pending === undefined) {
          // The key itself retires its old secret: the use of its new one did it.
          const by: Actor = { type: 'api_key', id: keyId, clientIp: null, userAgent: null };
          pending = change(
            async (trx) => ((await repo.retirePrevious(trx, keyId, retires.digest)) ? { keyId, newDigests: [] } : null),
            keyEvent('api_key.old_secret_retired', entry.principal.accountId, keyId, by, { reason: 'new_secret_used' }),
          )
            .then((retired) => {
              // Not retired here: the key changed meanwhile (rolled, revoked, retired elsewhere). Whatever
              // this instance holds about it is stale: forget it, so the use is decided on the key as stored.
              if (!retired) cache.evictKey(keyId);
            })
            .finally(() => retiring.delete(keyId));
          retiring.set(keyId, pending);
        }
        return pending;
      },
    },

    async create(key, by) {
      const { secret, digest, prefix, lastFour } = newSecret();
      const row: ApiKeyRow = {
        ...key,
        prefix,
        last_four: lastFour,
        key_hash: digest,
        previous_hash: null,
        previous_expires_at: null,
        last_used_at: null,
        revoked_at: null,
        rolled_at: null,
        revoked_reason: null,
        previous_retires_on_first_use: 0,
      };
      await change(
        async (trx) => {
          await repo.insert(trx, row);
          return { keyId: row.id, newDigests: [digest] };
        },
        keyEvent('api_key.created', row.account_id, row.id, by, { name: row.name, scopes: JSON.parse(row.scopes) as string[], expires_at: row.expires_at, canary: row.canary === 1 }),
      );
      return { row, secret };
    },

    async update(accountId, id, fields, by) {
      // Announced like a revocation: every instance drops its cached principal, so a narrowed scope
      // is refused from the next request on.
      return change(
        async (trx) => ((await repo.update(trx, accountId, id, fields)) ? { keyId: id, newDigests: [] } : null),
        keyEvent('api_key.changed', accountId, id, by, { changed: Object.keys(fields).sort() }),
      );
    },

    async revoke(accountId, id, at, cause) {
      return change(
        async (trx) => ((await repo.revoke(trx, accountId, id, at, cause.reason)) ? { keyId: id, newDigests: [] } : null),
        keyEvent(REVOKE_EVENTS[cause.reason], accountId, id, cause.by, { reason: cause.reason, ...cause.data }),
      );
    },

    async roll(accountId, id, roll, expectedHash, by) {
      const { secret, digest, prefix, lastFour } = newSecret();
      const rolled = await change(
        async (trx) =>
          (await repo.roll(trx, accountId, id, { keyHash: digest, prefix, lastFour, ...roll }, expectedHash)) ? { keyId: id, newDigests: [digest] } : null,
        keyEvent('api_key.rolled', accountId, id, by, {
          old_secret_works_until: roll.graceEndsAt,
          retire_old: roll.graceEndsAt !== null && roll.retiresOnFirstUse ? 'on_first_use' : null,
        }),
      );
      return rolled ? secret : null;
    },

    async revokeLeaked(secret, at, found) {
      const key = await repo.findByDigest(digestApiKey(secret, pepper));
      if (key === null) return null;
      const revoked = await store.revoke(key.accountId, key.id, at, { by: found.by, reason: 'leaked', data: found.data });
      if (!revoked) {
        // Nothing to write on the key, but the leak is news to the account: the event alone (announced
        // like a change; a cache holding the key evicts it, which costs one lookup).
        await change(
          async () => ({ keyId: key.id, newDigests: [] }),
          keyEvent('api_key.leaked', key.accountId, key.id, found.by, { reason: 'leaked', already_revoked: true, ...found.data }),
        );
      }
      return { accountId: key.accountId, keyId: key.id, wasLive: revoked };
    },

    cacheStats: () => ({ counts: cache.counts, entries: cache.size }),
    liveKeysOf: (owner) => repo.liveKeysOf(owner),
    list: (accountId, page) => repo.list(accountId, page),
    get: (accountId, id) => repo.get(accountId, id),

    async start(log) {
      await feed.start(log);
      // Filled in the background: until it is, every digest "may exist" and goes to the database.
      knownDigests.load().catch((error: unknown) =>
        log.warn({ err: error }, 'could not load the known API key digests; unknown keys are looked up in the database'),
      );
    },

    async stop() {
      try {
        await lastUsed.flush();
      } finally {
        await feed.stop();
      }
    },
  };
  return store;
}
