import { decodeProtectedHeader, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { Clock } from '../../lib/clock.js';
import { randomBase62 } from '../../lib/ids.js';
import { MAX_TOKEN_TTL_SECONDS, SIGNING_ALGORITHM, type SigningKeyStore } from './signing-key-store.js';

/** Claims the issuer sets itself; callers cannot override them through `claims`. */
const REGISTERED = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti'] as const;

export interface SignOptions {
  audience: string;
  ttlSeconds: number;
  subject: string;
  /** Defaults to a fresh random id. */
  jti?: string;
  /**
   * Which name of the signing key goes in the `kid` header: ours (sk_…, the default), or its libtrust
   * id, the only form Docker Distribution looks keys up by (registry tokens). JWKS publishes both.
   */
  keyName?: 'kid' | 'libtrust';
}

export interface IssuedToken {
  token: string;
  kid: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

export class TokenVerificationError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TokenVerificationError';
  }
}

/** Signs every token this API hands out, with `iss` = PUBLIC_URL and the time claims from the injected clock. */
export interface TokenIssuer {
  readonly issuer: string;
  sign(claims: Record<string, unknown>, options: SignOptions): Promise<IssuedToken>;
  /** Checks a token we signed (pinned algorithm, published kid, issuer, audience, time). */
  verify(token: string, options: { audience: string }): Promise<JWTPayload>;
}

export function createTokenIssuer(deps: { keys: SigningKeyStore; clock: Clock; issuer: string }): TokenIssuer {
  const { keys, clock, issuer } = deps;
  return {
    issuer,

    async sign(claims, options) {
      if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds < 1 || options.ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
        // A longer token would outlive its key's publication after a rotation.
        throw new Error(`token lifetime must be 1..${MAX_TOKEN_TTL_SECONDS} s (got ${options.ttlSeconds})`);
      }
      const active = await keys.activeKey();
      const kid = options.keyName === 'libtrust' ? active.libtrustKid : active.kid;
      const issuedAtMs = clock.now().getTime();
      const iat = Math.floor(issuedAtMs / 1000);
      const exp = iat + options.ttlSeconds;
      const jti = options.jti ?? randomBase62(24);
      const payload = { ...claims };
      for (const name of REGISTERED) delete payload[name];
      const token = await new SignJWT(payload)
        .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setSubject(options.subject)
        .setAudience(options.audience)
        .setIssuedAt(iat)
        .setNotBefore(iat)
        .setExpirationTime(exp)
        .setJti(jti)
        .sign(active.privateKey);
      return { token, kid, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000) };
    },

    async verify(token, { audience }) {
      let kid: unknown;
      try {
        kid = decodeProtectedHeader(token).kid;
      } catch {
        throw new TokenVerificationError('malformed token');
      }
      if (typeof kid !== 'string' || kid.length > 64) throw new TokenVerificationError('no usable kid');
      const key = await keys.publicKey(kid);
      if (!key) throw new TokenVerificationError('unknown or retired kid');
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [SIGNING_ALGORITHM],
          issuer,
          audience,
          currentDate: clock.now(),
          clockTolerance: 5,
          requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        });
        return payload;
      } catch (error) {
        throw new TokenVerificationError(error instanceof Error ? error.message : 'invalid token');
      }
    },
  };
}
