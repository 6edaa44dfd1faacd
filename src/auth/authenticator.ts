import { createSecretKey } from 'node:crypto';
import { AppError } from '../http/errors.js';
import { API_KEY_PREFIX, digestApiKey, isWellFormedApiKey } from './api-key-format.js';
import { keyLookupId, type CachedKey, type KeyCache } from './key-cache.js';
import type { Principal } from './principal.js';
import { sessionCacheKey, type SessionCache } from './session-cache.js';
import { InvalidSessionError, looksLikeJwt, type SessionVerifier } from './session-verifier.js';
import type { Scope } from './scopes.js';

/** What authentication needs to know about a stored key, found by its digest. */
export interface StoredKeyForAuth {
  id: string;
  accountId: string;
  name: string;
  scopes: Scope[];
  createdBy: string;
  /** The digest matched a rolled-away secret whose grace ends at this instant. */
  graceEndsAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface KeyLookup {
  findByDigest(digest: string): Promise<StoredKeyForAuth | null>;
  /** True only when no key can have this digest, known without a query (see known-digests.ts). */
  certainlyUnknown?(digest: string): boolean;
  /** Records use at `atMs` (the app's clock); implementations write behind and never per request. */
  noteUsed(keyId: string, atMs: number): void;
}

export interface AuthenticatorDeps {
  pepper: Buffer;
  keys: KeyLookup;
  keyCache: KeyCache;
  verifySession: SessionVerifier;
  sessionCache: SessionCache;
  now: () => Date;
}

export const REALM = 'Bearer realm="skaledata"';

const newUnauthenticated = (): AppError =>
  new AppError('unauthenticated', 'Send credentials as "Authorization: Bearer <session token or API key>".', {}, {
    'www-authenticate': REALM,
  });

/** One message for every invalid credential, so the answer does not tell which check failed. */
const newInvalidToken = (): AppError =>
  new AppError('invalid_token', 'The credentials are invalid, expired or revoked.', {}, {
    'www-authenticate': `${REALM}, error="invalid_token"`,
  });

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

/** Who is calling, or the 401 that refuses them (returned, not thrown: refusals are common and a throw costs more than the rest of one). */
export type Authentication = Principal | AppError;

/**
 * Steps 1 and 2 of the decision order (CONTRACT §2): who is calling, or a 401 saying why not. Answers
 * synchronously when it can (a cached key or session, a malformed header) and with a promise when it
 * must read the database or verify a token; `await` takes either. The promise rejects only when the
 * check itself failed (the database is down), never for a refused credential.
 */
export type Authenticator = (authorization: string | undefined) => Authentication | Promise<Authentication>;

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const { keys, keyCache, sessionCache } = deps;
  // Built once and returned for every refusal: nothing mutates them, and capturing a stack trace per
  // refused request would cost more than the rest of the refusal.
  const unauthenticated = newUnauthenticated();
  const invalidToken = newInvalidToken();
  // Imported once: HMAC with a prepared key object costs about a third less than with raw bytes.
  const pepper = createSecretKey(deps.pepper);
  const findByDigest = (digest: string) => keys.findByDigest(digest);

  /** Revocation, expiry and the end of a roll's grace, against the clock: a cached entry never outlives its key. */
  function admitKey(entry: CachedKey | null): Authentication {
    if (entry === null) return invalidToken;
    const now = deps.now().getTime();
    if (now >= entry.refusedFromMs) return invalidToken;
    keys.noteUsed(entry.keyId, now);
    return entry.principal;
  }

  function authenticateKey(key: string): Authentication | Promise<Authentication> {
    // The checksum is checked before any hashing or lookup: a mistyped or invented key costs nothing.
    // Its pattern admits base62 only, so a refused one is the only kind whose characters need a look.
    if (!isWellFormedApiKey(key)) return isVisibleAscii(key) ? invalidToken : unauthenticated;
    const lookup = keyLookupId(key);
    const entry = keyCache.get(lookup);
    if (entry !== undefined) return admitKey(entry);
    // Only a miss pays for the peppered digest the database is searched by.
    const digest = digestApiKey(key, pepper);
    if (keys.certainlyUnknown?.(digest) === true) return invalidToken;
    return keyCache.load(lookup, digest, findByDigest).then(admitKey);
  }

  function authenticateSession(token: string): Authentication | Promise<Authentication> {
    const cacheKey = sessionCacheKey(token);
    const cached = sessionCache.get(cacheKey);
    // Only verified tokens are cached, so a hit needs no shape check; a miss gets it before anything else.
    if (cached !== undefined) return cached;
    if (!isVisibleAscii(token)) return unauthenticated;
    if (!looksLikeJwt(token)) return invalidToken;
    return sessionCache.load(cacheKey, () => deps.verifySession(token)).catch((error: unknown) => {
      if (error instanceof InvalidSessionError) return invalidToken;
      throw error;
    });
  }

  return (authorization) => {
    if (authorization === undefined) return unauthenticated;
    const token = bearerTokenUnchecked(authorization);
    if (token === null) return unauthenticated;
    return token.startsWith(API_KEY_PREFIX) ? authenticateKey(token) : authenticateSession(token);
  };
}
