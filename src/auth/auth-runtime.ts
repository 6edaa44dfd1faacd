import type { FastifyBaseLogger } from 'fastify';
import type { AppDeps } from '../app-context.js';
import { createChangeFeed, type ChangeFeedOptions } from '../db/notifications.js';
import { createApiKeyRepo, storedDigests, type ApiKeyRepo } from '../modules/api-keys/api-key-repo.js';
import { KnownDigests } from './known-digests.js';
import { createAuthenticator, type Authenticator } from './authenticator.js';
import { decodeKeyChange, KeyCache } from './key-cache.js';
import { SessionCache } from './session-cache.js';

/** The channel on which instances announce API key changes (payload: see encodeKeyChange). */
export const API_KEY_CHANNEL = 'skaledata_api_keys';

export interface AuthRuntime {
  authenticate: Authenticator;
  keyRepo: ApiKeyRepo;
  keyCache: KeyCache;
  sessionCache: SessionCache;
  /** The filter of stored digests, or null where it is not used (several instances). */
  knownDigests: KnownDigests | null;
  /** Starts the change feed (onReady): until it listens, the key cache stays suspended. */
  start(log: FastifyBaseLogger): Promise<void>;
  /** Stops the change feed (onClose); the key cache is suspended from then on. */
  stop(): Promise<void>;
}

/**
 * The fast authentication path and what keeps it exact: the key and session caches, the repository
 * that evicts after every key change, and the change feed that evicts on the other instances.
 */
export function createAuthRuntime(deps: AppDeps, feedOptions: ChangeFeedOptions = {}): AuthRuntime {
  const settings = deps.config.authCache;
  const keyCache = new KeyCache({ maxKeys: settings.maxKeys, maxUnknown: settings.maxUnknownKeys, ttlMs: settings.ttlMs });
  const sessionCache = new SessionCache(settings.maxSessions);
  // Only where this process is the database's one writer: see known-digests.ts.
  const knownDigests = deps.database.capabilities.sharedByInstances ? null : new KnownDigests(storedDigests(deps.database.db));
  const feed = createChangeFeed(
    deps.config.database,
    deps.database,
    API_KEY_CHANNEL,
    {
      onMessage: (payload) => {
        const change = decodeKeyChange(payload);
        // A payload we cannot read still means "something changed": forget everything.
        if (change === null) keyCache.clear();
        else keyCache.apply(change);
      },
      onSuspend: () => keyCache.suspend(),
      onReset: () => {
        keyCache.resume();
        // SQLite: another process wrote to the file (the feed's first poll also lands here, before the fill).
        knownDigests?.markStale();
      },
    },
    feedOptions,
  );
  const keyRepo = createApiKeyRepo({ db: deps.database.db, cache: keyCache, publish: feed.publish, knownDigests });
  const authenticate = createAuthenticator({
    pepper: deps.pepper,
    keys: keyRepo.authLookup,
    keyCache,
    verifySession: deps.verifySession,
    sessionCache,
    now: () => deps.clock.now(),
  });
  return {
    authenticate,
    keyRepo,
    keyCache,
    sessionCache,
    knownDigests,
    start: async (log) => {
      await feed.start(log);
      // Filled in the background: until it is, every digest "may exist" and goes to the database.
      knownDigests?.load().catch((error: unknown) => log.warn({ error: { message: error instanceof Error ? error.message : String(error) } }, 'could not load the known API key digests; unknown keys are looked up in the database'));
    },
    stop: () => feed.stop(),
  };
}
