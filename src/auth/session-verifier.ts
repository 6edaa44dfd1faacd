import { verifyToken } from '@clerk/backend';
import { accountOf, ORG_ID_PREFIX, USER_ID_PREFIX } from './principal.js';
import type { VerifiedSession } from './session-cache.js';

/**
 * Verifies Clerk session tokens networklessly (CONTRACT §1). `verifyToken` checks the RSA signature,
 * `exp`/`nbf`/`iat` with clock skew and `azp`; around it we pin RS256 (the library also takes
 * RS384/RS512), refuse non-session token categories (JWT templates, OAuth, machine tokens share the
 * signing key), require `sid`, and compare `iss` ourselves.
 */
export interface SessionVerifierOptions {
  jwtKey: string;
  issuer: string | null;
  authorizedParties: string[];
  emailClaim: string;
  clockSkewMs?: number;
}

export class InvalidSessionError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'InvalidSessionError';
  }
}

/** The verified principal and the token's `exp`, until which the authenticator may remember it. */
export type SessionVerifier = (token: string) => Promise<VerifiedSession>;

/** Clerk marks session tokens with this `cat` header value; any other category is not a session. */
const SESSION_CATEGORY = 'cl_B7d4PD111AAA';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 8192;

function decodeHeader(token: string): Record<string, unknown> {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    if (typeof header === 'object' && header !== null && !Array.isArray(header)) return header as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new InvalidSessionError('malformed token header');
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && JWT_SHAPE.test(token);
}

export function createSessionVerifier(options: SessionVerifierOptions): SessionVerifier {
  const clockSkewInMs = options.clockSkewMs ?? 5000;
  return async (token) => {
    if (!looksLikeJwt(token)) throw new InvalidSessionError('not a JWT');
    const header = decodeHeader(token);
    if (header.alg !== 'RS256') throw new InvalidSessionError('algorithm must be RS256');
    if (header.cat !== undefined && header.cat !== SESSION_CATEGORY) throw new InvalidSessionError('not a session token');
    // We never fetch keys named by a token, and we understand no critical extensions.
    for (const forbidden of ['crit', 'jku', 'jwk', 'x5u', 'x5c']) {
      if (header[forbidden] !== undefined) throw new InvalidSessionError(`header ${forbidden} not accepted`);
    }

    let claims: Record<string, unknown>;
    try {
      claims = (await verifyToken(token, {
        jwtKey: options.jwtKey,
        authorizedParties: options.authorizedParties.length > 0 ? options.authorizedParties : undefined,
        clockSkewInMs,
      })) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidSessionError(error instanceof Error ? error.message : 'verification failed');
    }

    // The library compares dates built from these claims; absurd values (1e300) make every comparison
    // false. Require sane integers and check the window here as well.
    const nowSeconds = Date.now() / 1000;
    const skewSeconds = clockSkewInMs / 1000;
    const { exp, nbf, iat } = claims;
    if (!Number.isSafeInteger(exp) || (exp as number) <= nowSeconds - skewSeconds) throw new InvalidSessionError('exp is required and must be in the future');
    for (const [name, value] of [['nbf', nbf], ['iat', iat]] as const) {
      if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) > nowSeconds + skewSeconds)) {
        throw new InvalidSessionError(`${name} must be a time in the past`);
      }
    }
    if (options.issuer !== null && claims.iss !== options.issuer) throw new InvalidSessionError('unexpected issuer');
    const userId = nonEmptyString(claims.sub);
    const sessionId = nonEmptyString(claims.sid);
    if (userId === null) throw new InvalidSessionError('sub is required');
    if (sessionId === null) throw new InvalidSessionError('sid is required: not a session token');
    // Personal and organisation accounts share one id space, told apart by Clerk's prefixes: a subject
    // that is not a user id (an `org_…` sub with no org claim) would otherwise act in that organisation.
    if (!userId.startsWith(USER_ID_PREFIX)) throw new InvalidSessionError(`sub must be a user id (${USER_ID_PREFIX}…)`);

    const compactOrg = claims.o as { id?: unknown } | undefined;
    const orgId = nonEmptyString(claims.org_id) ?? nonEmptyString(compactOrg?.id);
    if (orgId !== null && !orgId.startsWith(ORG_ID_PREFIX)) throw new InvalidSessionError(`the organisation id must be an organisation id (${ORG_ID_PREFIX}…)`);
    const email = nonEmptyString(claims[options.emailClaim]);
    return {
      principal: { type: 'user', userId, accountId: accountOf(userId, orgId), orgId, email, sessionId },
      expiresAtMs: (exp as number) * 1000,
    };
  };
}
