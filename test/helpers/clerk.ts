import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/**
 * A stand-in for a Clerk instance: an RSA key pair whose public PEM the server gets as CLERK_JWT_KEY,
 * and a minter for session tokens shaped like Clerk's (sub, sid, iss, azp, exp/nbf/iat, org claims).
 */
export interface TestClerk {
  publicKeyPem: string;
  privateKey: KeyObject;
  issuer: string;
  session(claims?: Record<string, unknown>, options?: SessionOptions): Promise<string>;
}

export interface SessionOptions {
  header?: Record<string, unknown>;
  key?: KeyObject;
  expiresInSeconds?: number;
  notBeforeOffsetSeconds?: number;
  omit?: string[];
}

export function createTestClerk(issuer = 'https://clerk.test.skaledata.local'): TestClerk {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
    issuer,
    async session(claims = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        sub: `user_${randomBytes(8).toString('hex')}`,
        sid: `sess_${randomBytes(8).toString('hex')}`,
        iss: issuer,
        azp: 'https://app.skaledata.local',
        iat: now,
        nbf: now + (options.notBeforeOffsetSeconds ?? 0),
        exp: now + (options.expiresInSeconds ?? 300),
        ...claims,
      };
      for (const name of options.omit ?? []) delete payload[name];
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'ins_test', ...options.header } as { alg: string })
        .sign(options.key ?? privateKey);
    },
  };
}

let shared: TestClerk | null = null;
/** One key pair per test process: generating RSA keys is slow. */
export function sharedTestClerk(): TestClerk {
  shared ??= createTestClerk();
  return shared;
}
