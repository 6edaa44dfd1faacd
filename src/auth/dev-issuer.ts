import { createHash, generateKeyPairSync, createPrivateKey, createPublicKey, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { loadOrCreateSecretFile } from '../lib/secret-files.js';

/**
 * The local development issuer: with no CLERK_JWT_KEY configured, the server trusts session tokens
 * signed by a key pair kept in the data folder, and `skaledata dev-token` mints them. The tokens have
 * the shape of Clerk session tokens and go through the same verifier as real ones.
 */
export const DEV_ISSUER = 'https://dev-issuer.skaledata.local';
const KEY_FILE = 'dev-issuer-key.pem';

/** A stable user id per email, so the same person gets the same personal account every time (CLI and dashboard alike). */
export function devUserId(email: string): string {
  return `user_dev_${createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 24)}`;
}

/** What a development email and organisation id must look like (`skaledata dev-token` and the dashboard's sign-in). */
export const DEV_EMAIL_PATTERN = '^[^\\s@]+@[^\\s@]+$';
export const DEV_ORG_PATTERN = '^org_[A-Za-z0-9_-]{1,60}$';

export interface DevIssuer {
  publicKeyPem: string;
  mint(claims: DevTokenClaims): Promise<string>;
}

export interface DevTokenClaims {
  userId: string;
  email?: string | undefined;
  orgId?: string | undefined;
  ttlSeconds?: number | undefined;
}

export function loadDevIssuer(dataDir: string): DevIssuer {
  const pem = loadOrCreateSecretFile(dataDir, KEY_FILE, () => {
    // RSA 2048: the size Clerk's networkless PEM loader expects, so the same verifier applies.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  });
  const privateKey = createPrivateKey(pem);
  const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  return {
    publicKeyPem,
    mint: async ({ userId, email, orgId, ttlSeconds = 3600 }) => {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = { sid: `sess_dev_${randomUUID().replace(/-/g, '')}`, v: 2 };
      if (email) payload.email = email;
      if (orgId) payload.o = { id: orgId, rol: 'admin' };
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'skaledata-dev' })
        .setSubject(userId)
        .setIssuer(DEV_ISSUER)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(privateKey);
    },
  };
}
