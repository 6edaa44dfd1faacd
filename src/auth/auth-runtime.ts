import type { FastifyBaseLogger } from 'fastify';
import type { AppDeps } from '../app-context.js';
import { createChangeFeed, type ChangeFeedOptions } from '../db/notifications.js';
import { createApiKeyRepo, type ApiKeyRepo } from '../modules/api-keys/api-key-repo.js';
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
  const feed = createChangeFeed(
    deps.config.database,
    deps.database.db,
    API_KEY_CHANNEL,
    {
      onMessage: (payload) => {
        const change = decodeKeyChange(payload);
        // A payload we cannot read still means "something changed": forget everything.
        if (change === null) keyCache.clear();
        else keyCache.apply(change);
      },
      onSuspend: () => keyCache.suspend(),
      onReset: () => keyCache.resume(),
    },
    feedOptions,
  );
  const keyRepo = createApiKeyRepo({ db: deps.database.db, cache: keyCache, publish: feed.publish });
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
    start: (log) => feed.start(log),
    stop: () => feed.stop(),
  };
}
