import { API_KEY_PREFIX, isWellFormedApiKey } from './api-key-format.js';
import { INVALID_TOKEN, UNAUTHENTICATED, type Refusal } from './decision.js';
import type { CanaryTrip } from './canary.js';
import type { CachedKey } from './key-cache.js';
import type { Principal } from './principal.js';
import { sessionCacheKey, type SessionCache } from './session-cache.js';
import { InvalidSessionError, looksLikeJwt, type SessionVerifier } from './session-verifier.js';

/** Where the authenticator finds API keys (the api-keys module's store implements it, with its caches). */
export interface KeyLookup {
  /**
   * The key whose secret this is (well-formed, checksum checked): its cached record, null when no key has
   * this secret, or a promise when the database must be read. The promise rejects only when the read
   * itself failed.
   */
  find(key: string): CachedKey | null | Promise<CachedKey | null>;
  /** Records use at `atMs` (the app's clock); implementations write behind and never per request. */
  noteUsed(keyId: string, atMs: number): void;
  /**
   * The first use of a new secret rolled with `retire_old: on_first_use`: retires the old secret (one
   * committed, announced write) and forgets the cached entries of the key, so `find` reads it again.
   */
  retirePrevious(entry: CachedKey): Promise<void>;
}

export interface AuthenticatorDeps {
  keys: KeyLookup;
  verifySession: SessionVerifier;
  sessionCache: SessionCache;
  now: () => Date;
}

const SPACE = 0x20;
const TAB = 0x09;
const SCHEME = 'bearer';

/**
 * The token of an `Authorization: Bearer <token>` header, or null. RFC 6750: `Bearer` (any case)
 * 1*SP token, where the token is visible ASCII; only SP and HTAB are optional whitespace around a
 * header value (RFC 9110). Written as a scan rather than a regex: it runs on every request.
 */
export function bearerToken(header: string): string | null {
  const token = bearerTokenUnchecked(header);
  return token !== null && isVisibleAscii(token) ? token : null;
}

/** True when every character is visible ASCII (RFC 6750's token characters are a subset). */
function isVisibleAscii(token: string): boolean {
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/**
 * `bearerToken` without checking the token's characters. The authenticator checks them only where
 * nothing else has: a key's format admits only base62, and a session found in the cache is the very
 * string verified before (the same SHA-256), so only a session token not seen yet is scanned.
 */
function bearerTokenUnchecked(header: string): string | null {
  let start = 0;
  let end = header.length;
  while (start < end && (header.charCodeAt(start) === SPACE || header.charCodeAt(start) === TAB)) start++;
  while (end > start && (header.charCodeAt(end - 1) === SPACE || header.charCodeAt(end - 1) === TAB)) end--;
  if (end - start < SCHEME.length + 2) return null;
  for (let i = 0; i < SCHEME.length; i++) {
    // `| 0x20` lower-cases ASCII letters; only 'B'/'b', 'E'/'e', … map onto these lower-case letters.
    if ((header.charCodeAt(start + i) | 0x20) !== SCHEME.charCodeAt(i)) return null;
  }
  let tokenStart = start + SCHEME.length;
  if (header.charCodeAt(tokenStart) !== SPACE) return null;
  while (tokenStart < end && header.charCodeAt(tokenStart) === SPACE) tokenStart++;
  if (tokenStart === end) return null;
  return header.slice(tokenStart, end);
}

/** Who is calling, or why not (step 1 or 2): plain data, rendered by http/. */
export type Authentication = Principal | Refusal;

/**
 * Steps 1 and 2 of the decision order (CONTRACT §2): who is calling, or the refusal that says why not.
 * The one contract for every caller: exactly one of `onResult` (a principal or a refusal) and `onError`
 * (the check itself failed: the database is down; never a refused credential) is called, once. A cached
 * key or session, or a malformed header, is answered before `authenticate` returns (no promise, no
 * microtask: the hot path); the rest once the database or the verifier has answered.
 */
export type Authenticator = (
  authorization: string | undefined,
  /** `canary`: set when the refusal is a canary key's (answered like any invalid token; reported by the caller). */
  onResult: (result: Authentication, canary?: CanaryTrip) => void,
  onError: (error: Error) => void,
) => void;

/** What the key path decides: a principal, a refusal, or a canary (refused as invalid_token, then reported). */
type KeyOutcome = Authentication | CanaryTrip;

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const { keys, sessionCache } = deps;

  /**
   * Revocation, expiry and the end of a roll's grace, against the clock: a cached entry never outlives its
   * key. A live canary is refused like an unknown key (a revoked or expired one is just refused: disarmed).
   * The first use of a secret rolled with `retire_old: on_first_use` retires the old secret before it is
   * admitted, then is decided again on the key as stored now (`retried`: at most once).
   */
  function admitKey(key: string, entry: CachedKey | null, retried: boolean): KeyOutcome | Promise<KeyOutcome> {
    if (entry === null) return INVALID_TOKEN;
    const now = deps.now().getTime();
    if (now >= entry.refusedFromMs) return INVALID_TOKEN;
    if (entry.canary !== null) return entry.canary;
    const retires = entry.retiresPrevious;
    if (retires !== null && now < retires.untilMs && !retried) {
      return keys.retirePrevious(entry).then(() => findAndAdmit(key, true));
    }
    keys.noteUsed(entry.keyId, now);
    return entry.principal;
  }

  function findAndAdmit(key: string, retried: boolean): KeyOutcome | Promise<KeyOutcome> {
    const found = keys.find(key);
    return found instanceof Promise ? found.then((entry) => admitKey(key, entry, retried)) : admitKey(key, found, retried);
  }

  function authenticateKey(key: string): KeyOutcome | Promise<KeyOutcome> {
    // The checksum is checked before any hashing or lookup: a mistyped or invented key costs nothing.
    // Its pattern admits base62 only, so a refused one is the only kind whose characters need a look.
    if (!isWellFormedApiKey(key)) return isVisibleAscii(key) ? INVALID_TOKEN : UNAUTHENTICATED;
    return findAndAdmit(key, false);
  }

  function authenticateSession(token: string): Authentication | Promise<Authentication> {
    const cacheKey = sessionCacheKey(token);
    const cached = sessionCache.get(cacheKey);
    // Only verified tokens are cached, so a hit needs no shape check; a miss gets it before anything else.
    if (cached !== undefined) return cached;
    if (!isVisibleAscii(token)) return UNAUTHENTICATED;
    if (!looksLikeJwt(token)) return INVALID_TOKEN;
    return sessionCache.load(cacheKey, () => deps.verifySession(token)).catch((error: unknown) => {
      if (error instanceof InvalidSessionError) return INVALID_TOKEN;
      throw error;
    });
  }

  function identify(authorization: string | undefined): KeyOutcome | Promise<KeyOutcome> {
    if (authorization === undefined) return UNAUTHENTICATED;
    const token = bearerTokenUnchecked(authorization);
    if (token === null) return UNAUTHENTICATED;
    return token.startsWith(API_KEY_PREFIX) ? authenticateKey(token) : authenticateSession(token);
  }

  // A canary answers with the very refusal an unknown key gets (same object, so the same bytes).
  const settle = (result: KeyOutcome, onResult: (result: Authentication, canary?: CanaryTrip) => void): void =>
    result.type === 'canary' ? onResult(INVALID_TOKEN, result) : onResult(result);

  return (authorization, onResult, onError) => {
    const result = identify(authorization);
    if (!(result instanceof Promise)) return settle(result, onResult);
    result.then(
      (outcome) => settle(outcome, onResult),
      (error: unknown) => onError(error instanceof Error ? error : new Error(String(error))),
    );
  };
}
