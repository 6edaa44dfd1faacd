import { AppError } from '../http/errors.js';
import { API_KEY_PREFIX, digestApiKey, isWellFormedApiKey } from './api-key-format.js';
import type { ApiKeyPrincipal, Principal } from './principal.js';
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
  /** Records use; implementations write behind and never per request. */
  noteUsed(keyId: string): void;
}

export interface AuthenticatorDeps {
  pepper: Buffer;
  keys: KeyLookup;
  verifySession: SessionVerifier;
  now: () => Date;
}

export const REALM = 'Bearer realm="skaledata"';

const unauthenticated = (): AppError =>
  new AppError('unauthenticated', 'Send credentials as "Authorization: Bearer <session token or API key>".', {}, {
    'www-authenticate': REALM,
  });

/** One message for every invalid credential, so the answer does not tell which check failed. */
const invalidToken = (): AppError =>
  new AppError('invalid_token', 'The credentials are invalid, expired or revoked.', {}, {
    'www-authenticate': `${REALM}, error="invalid_token"`,
  });

// RFC 6750: `Bearer` 1*SP token. Only SP and HTAB are optional whitespace around a header value (RFC 9110).
const BEARER = /^Bearer +([!-~]+)$/i;
const stripOws = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, '');

/** Steps 1 and 2 of the decision order (CONTRACT §2): who is calling, or a 401 saying why not. */
export type Authenticator = (authorization: string | undefined) => Promise<Principal>;

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  async function authenticateKey(key: string): Promise<ApiKeyPrincipal> {
    // The checksum is checked before any hashing or lookup: a mistyped or invented key costs nothing.
    if (!isWellFormedApiKey(key)) throw invalidToken();
    const stored = await deps.keys.findByDigest(digestApiKey(key, deps.pepper));
    const now = deps.now().getTime();
    if (
      stored === null ||
      stored.revokedAt !== null ||
      (stored.expiresAt !== null && stored.expiresAt.getTime() <= now) ||
      (stored.graceEndsAt !== null && stored.graceEndsAt.getTime() <= now)
    ) {
      throw invalidToken();
    }
    deps.keys.noteUsed(stored.id);
    return {
      type: 'api_key',
      keyId: stored.id,
      keyName: stored.name,
      accountId: stored.accountId,
      scopes: stored.scopes,
      userId: stored.createdBy,
    };
  }

  return async (authorization) => {
    const header = authorization === undefined ? '' : stripOws(authorization);
    if (header === '') throw unauthenticated();
    const match = BEARER.exec(header);
    if (!match?.[1]) throw unauthenticated();
    const token = match[1];
    if (token.startsWith(API_KEY_PREFIX)) return authenticateKey(token);
    if (!looksLikeJwt(token)) throw invalidToken();
    try {
      return await deps.verifySession(token);
    } catch (error) {
      if (error instanceof InvalidSessionError) throw invalidToken();
      throw error;
    }
  };
}
