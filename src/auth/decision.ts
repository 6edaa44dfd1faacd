import type { AuthRequirement, Scope } from './scopes.js';

/**
 * Why a caller is turned away at steps 1–4 of the decision order (CONTRACT §2), as plain data: auth/
 * decides, http/ renders (status, problem+json body, WWW-Authenticate). The refusals are constants, one
 * per case, so a refused request allocates nothing and the renderer can keep its bytes.
 */
export type RefusalCode = 'invalid_request' | 'unauthenticated' | 'invalid_token' | 'user_session_required' | 'insufficient_scope' | 'ip_not_allowed' | 'resource_not_allowed' | 'rate_limited';

export type Refusal =
  | { readonly type: 'refusal'; readonly code: Exclude<RefusalCode, 'insufficient_scope'>; readonly detail: string; readonly scope?: undefined }
  /** `scope`: the scope the route needs (the seed's message names it too). */
  | { readonly type: 'refusal'; readonly code: 'insufficient_scope'; readonly detail: string; readonly scope: Scope };

const refusal = (code: Exclude<RefusalCode, 'insufficient_scope'>, detail: string): Refusal => Object.freeze({ type: 'refusal', code, detail });

/**
 * Before step 1: the request carries more than one `Authorization` header. Which one counts differs
 * between servers and proxies (Node keeps the first, others the last), so a request with several is
 * decided on none of them (RFC 6750 §3.1 `invalid_request`, 400).
 */
export const REPEATED_AUTHORIZATION = refusal('invalid_request', 'Send one Authorization header; this request has several.');

/** Step 1: no credentials, or not as `Authorization: Bearer <token>`. */
export const UNAUTHENTICATED = refusal('unauthenticated', 'Send credentials as "Authorization: Bearer <session token or API key>".');

/** Step 2, one message for every invalid credential, so the answer does not tell which check failed. */
export const INVALID_TOKEN = refusal('invalid_token', 'The credentials are invalid, expired or revoked.');

/** Step 3 (seed: "Some endpoints are user-only and reject API key auth entirely"). */
export const USER_SESSION_REQUIRED = refusal('user_session_required', 'This endpoint requires a user session and does not accept API keys.');

/**
 * After step 2, before 3 and 4 (CONTRACT §7): a valid key used from an address its allowlist does not
 * hold. Decided before the scope, so a key used from elsewhere learns nothing about what it may do.
 */
export const IP_NOT_ALLOWED = refusal('ip_not_allowed', 'This API key may not be used from this address (its allowed_ips).');

/**
 * After step 2 (CONTRACT §7): a valid key over its rate limit (its own `rate_limit`, else
 * RATE_LIMIT_DEFAULT). The answer also carries Retry-After and the RateLimit fields (http/rate-limits.ts).
 */
export const RATE_LIMITED = refusal('rate_limited', 'This API key is over its rate limit; retry after Retry-After seconds.');

/**
 * Before step 2: too many invalid credentials came from this client address (AUTH_FAILURE_LIMIT), so its
 * credentials are not even looked up until Retry-After seconds have passed. One message whatever the
 * credential, so the answer tells nothing about it.
 */
export const TOO_MANY_INVALID_CREDENTIALS = refusal('rate_limited', 'Too many invalid credentials from this address; retry after Retry-After seconds.');

/**
 * The refusal of a key used from outside its allowlist, or null. The client address is read only for a
 * fenced key (`from.ip` is a getter on the request), so every other request pays nothing.
 */
export function addressRefusal(principal: { type: string; allowedIps?: { allows(address: string): boolean } | null }, from: { readonly ip: string }): Refusal | null {
  if (principal.type !== 'api_key' || !principal.allowedIps) return null;
  return principal.allowedIps.allows(from.ip) ? null : IP_NOT_ALLOWED;
}

/**
 * After the scope (CONTRACT §7): a key limited to some clusters and apps asked to create or change what
 * the whole account shares (a cluster, a cloud, the GitHub integration), to read the account's keys or
 * billing, or to create an app on a cluster it is not given. Reads of resources outside the list are not refused but answered 404, as if absent.
 */
export const RESOURCE_NOT_ALLOWED = refusal(
  'resource_not_allowed',
  'This API key is limited to some clusters and apps (its resources); this request reaches beyond them (the whole account, or a cluster it is not given).',
);

/**
 * The scopes a key holds now: its scopes less those whose `scope_expires_at` has passed. The one
 * place a lapse is applied, so a lapsed scope is refused in the seed's words by `decide` like any other.
 */
export function heldScopes(principal: { scopes: readonly Scope[]; scopeLapses: ReadonlyMap<Scope, number> | null }, now: () => number): readonly Scope[] {
  const lapses = principal.scopeLapses;
  // Most keys: no clock read at all.
  if (lapses === null) return principal.scopes;
  const nowMs = now();
  return principal.scopes.filter((scope) => {
    const at = lapses.get(scope);
    return at === undefined || nowMs < at;
  });
}

/**
 * How long (seconds from `nowMs`, at most `maxSeconds`) a credential handed to this caller may live, so it
 * never outlasts the lapse of the scope that allowed it (`scope_expires_at`): a token minted a minute
 * before `terminal:exec` lapses lives one minute. The latest lapse among `granting` scopes the key holds
 * (or of `full`) counts; a user, or a key whose granting scope does not lapse, gets `maxSeconds`.
 */
export function lifetimeWithin(
  principal: { type: string; scopes?: readonly Scope[]; scopeLapses?: ReadonlyMap<Scope, number> | null },
  granting: readonly Scope[],
  nowMs: number,
  maxSeconds: number,
): number {
  if (principal.type !== 'api_key' || !principal.scopeLapses || !principal.scopes) return maxSeconds;
  let until = -Infinity;
  for (const scope of principal.scopes) {
    if (scope !== 'full' && !granting.includes(scope)) continue;
    until = Math.max(until, principal.scopeLapses.get(scope) ?? Infinity);
  }
  if (until === Infinity || until === -Infinity) return maxSeconds;
  return Math.max(1, Math.min(maxSeconds, Math.floor((until - nowMs) / 1000)));
}

const missingScopes = new Map<Scope, Refusal>();

/** Step 4, in the seed's words: `API key missing required scope: <scope>`. */
export function missingScope(scope: Scope): Refusal {
  let found = missingScopes.get(scope);
  if (found === undefined) {
    found = Object.freeze({ type: 'refusal', code: 'insufficient_scope', detail: `API key missing required scope: ${scope}`, scope } as const);
    missingScopes.set(scope, found);
  }
  return found;
}

export type CallerKind = 'user' | 'api_key';

/** Either the caller may go on, or the exact refusal. */
export type Decision = 'allowed' | Refusal;

/**
 * Steps 3 and 4 of the decision order (CONTRACT §2) for an authenticated caller. Pure: it never
 * looks at the resource, so a key without the scope is refused the same way for any id.
 */
export function decide(requirement: AuthRequirement, caller: CallerKind, scopes: readonly Scope[]): Decision {
  if (caller === 'user' || requirement.kind === 'public' || requirement.kind === 'anyPrincipal') return 'allowed';
  if (requirement.kind === 'userOnly') return USER_SESSION_REQUIRED;
  // `full` bypasses every scope check (seed: "A key with the full scope bypasses all scope checks").
  if (scopes.includes('full')) return 'allowed';
  const needed: Scope = requirement.kind === 'scope' ? requirement.scope : 'full';
  return scopes.includes(needed) ? 'allowed' : missingScope(needed);
}
