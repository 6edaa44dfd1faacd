import type { IpAllowlist } from './ip-allowlist.js';
import type { ResourceFence } from './resource-fence.js';
import type { Scope } from './scopes.js';

export interface UserPrincipal {
  type: 'user';
  userId: string;
  /** The Clerk organisation when the session acts in one, else the user's personal account. */
  accountId: string;
  orgId: string | null;
  email: string | null;
  sessionId: string;
}

export interface ApiKeyPrincipal {
  type: 'api_key';
  keyId: string;
  keyName: string;
  accountId: string;
  scopes: Scope[];
  /** The user who created the key. */
  userId: string;
  /** Where the key may be used from (CONTRACT §7); null = anywhere. */
  allowedIps: IpAllowlist | null;
  /** The only clusters and apps the key may see (CONTRACT §7); null = the whole account. */
  resources: ResourceFence | null;
  /** Scopes that lapse before the key: scope → instant (ms, the app's clock); null = none. */
  scopeLapses: ReadonlyMap<Scope, number> | null;
  /** The key's own rate limit (CONTRACT §7); null = the server default (RATE_LIMIT_DEFAULT). */
  rateLimit: RateLimit | null;
}

/** `requests` per `perSeconds`-second window. */
export interface RateLimit {
  readonly requests: number;
  readonly perSeconds: number;
}

export type Principal = UserPrincipal | ApiKeyPrincipal;

/** Clerk's id prefixes, which keep personal accounts and organisations apart in one id space. */
export const USER_ID_PREFIX = 'user_';
export const ORG_ID_PREFIX = 'org_';

/**
 * Personal accounts and organisations share one id space: `user_…` and `org_…` as Clerk issues them
 * (the session verifier refuses any other subject or organisation id, so neither can name the other).
 */
export function accountOf(userId: string, orgId: string | null): string {
  return orgId ?? userId;
}

export function principalId(principal: Principal): string {
  return principal.type === 'user' ? principal.userId : principal.keyId;
}

/** The clusters and apps the caller is limited to (a fenced API key), or null for the whole account. */
export function fenceOf(principal: Principal): ResourceFence | null {
  return principal.type === 'api_key' ? principal.resources : null;
}
