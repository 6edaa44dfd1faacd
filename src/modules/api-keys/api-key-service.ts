import { AllowlistEntryError, ipAllowlist } from '../../auth/ip-allowlist.js';
import type { RateLimit, UserPrincipal } from '../../auth/principal.js';
import { checkRateLimit, RateLimitError, storedRateLimit } from '../../auth/rate-limits.js';
import { parseStoredResources, type ResourceList } from '../../auth/resource-fence.js';
import { normalizeScopes, parseStoredScopeExpiry, parseStoredScopes, type Scope } from '../../auth/scopes.js';
import { AppError, conflict, notFound } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import type { Actor } from '../events/event-types.js';
import type { ApiKeyRow, KeyUpdate } from './api-key-repo.js';
import { ROLL_GRACE_MAX_SECONDS } from './api-key-schemas.js';
import type { ApiKeyStore, RevokeReason } from './api-key-store.js';

export interface ApiKeyView {
  id: string;
  name: string;
  scopes: Scope[];
  prefix: string;
  last_four: string;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_reason: RevokeReason | null;
  allowed_ips: string[] | null;
  resources: ResourceList | null;
  scope_expires_at: Record<string, string> | null;
  rate_limit: { requests: number; per_seconds: number } | null;
  canary: boolean;
}

/** `rate_limit` as a request gives it. */
export type RateLimitInput = { requests: number; per_seconds: number } | null;

export function presentApiKey(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    scopes: parseStoredScopes(row.scopes),
    prefix: row.prefix,
    last_four: row.last_four,
    created_at: row.created_at,
    created_by: row.created_by,
    last_used_at: row.last_used_at,
    expires_at: row.expires_at,
    revoked_at: row.revoked_at,
    revoked_reason: row.revoked_reason as RevokeReason | null,
    allowed_ips: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    resources: row.resources === null ? null : parseStoredResources(row.resources),
    scope_expires_at: row.scope_expires_at === null ? null : Object.fromEntries(parseStoredScopeExpiry(row.scope_expires_at).map(([scope, at]) => [scope, at.toISOString()])),
    rate_limit: presentRateLimit(storedRateLimit(row)),
    canary: row.canary === 1,
  };
}

const presentRateLimit = (limit: RateLimit | null) => (limit === null ? null : { requests: limit.requests, per_seconds: limit.perSeconds });

/**
 * `rate_limit` as stored (two columns, both null = the server default), or a 400 naming the field. The
 * schema holds the same bounds; they are checked here too so no caller can store a limit of 0.
 */
function storedRateLimitColumns(input: RateLimitInput): { rate_limit_requests: number | null; rate_limit_per_seconds: number | null } {
  if (input === null) return { rate_limit_requests: null, rate_limit_per_seconds: null };
  try {
    const limit = checkRateLimit(input.requests, input.per_seconds);
    return { rate_limit_requests: limit.requests, rate_limit_per_seconds: limit.perSeconds };
  } catch (error) {
    if (!(error instanceof RateLimitError)) throw error;
    const path = `rate_limit.${error.field}`;
    throw new AppError('validation_failed', `${path}: ${error.message}`, { errors: [{ path, message: error.message }] });
  }
}

const MAX_LIFETIME_MS = 5 * 366 * 24 * 3600 * 1000;

const fieldError = (path: string, message: string) => new AppError('validation_failed', `${path}: ${message}`, { errors: [{ path, message }] });

/** A future instant within 5 years, as stored; a 400 naming `path` otherwise. */
function futureInstant(value: string, now: Date, path: string): string {
  const at = new Date(value);
  // Formats such as leap seconds (23:59:60) pass the schema but are no instant JavaScript can hold.
  if (Number.isNaN(at.getTime()) || at.getTime() <= now.getTime() || at.getTime() - now.getTime() > MAX_LIFETIME_MS) {
    throw fieldError(path, 'must be in the future and within 5 years');
  }
  return at.toISOString();
}

/** Requested resources: each id must name a live cluster or app of the account (a 400 naming the first that does not). */
type UnknownResources = (accountId: string, list: ResourceList) => Promise<string[]>;

async function storedResources(input: { clusters?: string[] | undefined; apps?: string[] | undefined } | null, accountId: string, unknown: UnknownResources): Promise<string | null> {
  if (input === null) return null;
  const list: ResourceList = { clusters: input.clusters ?? [], apps: input.apps ?? [] };
  if (list.clusters.length + list.apps.length === 0) throw fieldError('resources', 'name at least one cluster or app, or send null for the whole account');
  const missing = await unknown(accountId, list);
  if (missing.length > 0) throw fieldError(missing[0] as string, 'names no cluster or app of this account');
  return JSON.stringify(list);
}

/**
 * Requested scope lapses: each scope held by the key (a `full` key can only let `full` lapse: its other
 * scopes are not separate grants) and each instant in the future, not after the key's own expiry.
 */
function storedScopeExpiry(input: Record<string, string | undefined> | null, scopes: readonly Scope[], keyExpiresAt: string | null, now: Date): string | null {
  if (input === null) return null;
  const lapses: Record<string, string> = {};
  for (const [scope, at] of Object.entries(input)) {
    if (at === undefined) continue;
    const path = `scope_expires_at.${scope}`;
    if (!scopes.includes(scope as Scope)) throw fieldError(path, `the key does not hold ${scope}${scopes.includes('full') ? ' as a separate scope (a full key can only let full lapse)' : ''}`);
    const instant = futureInstant(at, now, path);
    if (keyExpiresAt !== null && instant > keyExpiresAt) throw fieldError(path, 'must not be after the key expires (expires_at)');
    lapses[scope] = instant;
  }
  return JSON.stringify(lapses);
}

/** `allowed_ips` as stored (normalized CIDRs as JSON, or null), or a 400 naming the entry. */
function storedAllowlist(entries: readonly string[] | null): string | null {
  if (entries === null) return null;
  try {
    return JSON.stringify(ipAllowlist(entries).cidrs);
  } catch (error) {
    if (!(error instanceof AllowlistEntryError)) throw error;
    const path = error.index === null ? 'allowed_ips' : `allowed_ips.${error.index}`;
    throw new AppError('validation_failed', `${path}: ${error.message}`, { errors: [{ path, message: error.message }] });
  }
}

/** The restrictions a request may set, at creation or in PATCH (each optional; null removes one). */
interface KeyInput {
  scopes?: Scope[] | undefined;
  allowed_ips?: string[] | null | undefined;
  resources?: { clusters?: string[] | undefined; apps?: string[] | undefined } | null | undefined;
  scope_expires_at?: Record<string, string | undefined> | null | undefined;
  rate_limit?: RateLimitInput | undefined;
}

export function createApiKeyService(deps: { keys: ApiKeyStore; clock: Clock; unknownResources: UnknownResources }) {
  const { keys, clock } = deps;

  async function mustGet(accountId: string, id: string): Promise<ApiKeyRow> {
    const row = await keys.get(accountId, id);
    if (!row) throw notFound('API key', id);
    return row;
  }

  return {
    async create(user: UserPrincipal, by: Actor, input: KeyInput & { name: string; expires_at?: string | undefined; canary?: boolean | undefined }) {
      const now = clock.now();
      const expiresAt = input.expires_at === undefined ? null : futureInstant(input.expires_at, now, 'expires_at');
      const scopes = normalizeScopes(input.scopes ?? ['full']);
      const allowedIps = storedAllowlist(input.allowed_ips ?? null);
      const scopeExpiresAt = storedScopeExpiry(input.scope_expires_at ?? null, scopes, expiresAt, now);
      const resources = await storedResources(input.resources ?? null, user.accountId, deps.unknownResources);
      const { row, secret } = await keys.create({
        id: newId('apiKey', now.getTime()),
        account_id: user.accountId,
        name: input.name.trim(),
        scopes: JSON.stringify(scopes),
        created_at: now.toISOString(),
        created_by: user.userId,
        expires_at: expiresAt,
        allowed_ips: allowedIps,
        resources,
        scope_expires_at: scopeExpiresAt,
        ...storedRateLimitColumns(input.rate_limit ?? null),
        canary: input.canary === true ? 1 : 0,
      }, by);
      // The plaintext leaves only after the row is committed, and only in this response.
      return { ...presentApiKey(row), key: secret };
    },

    async list(accountId: string, query: { limit?: number; cursor?: string }) {
      const page = pageRequest(query);
      return toPage(await keys.list(accountId, page), page, presentApiKey);
    },

    async get(accountId: string, id: string) {
      return presentApiKey(await mustGet(accountId, id));
    },

    /** Rename, narrow the scopes, change the restrictions (CONTRACT §7): a key never gains a scope it was not created with. */
    async update(accountId: string, id: string, by: Actor, input: KeyInput & { name?: string | undefined }) {
      const row = await mustGet(accountId, id);
      const now = clock.now();
      if (row.revoked_at !== null) throw conflict(`API key ${id} is revoked; it can no longer be changed.`);
      if (row.expires_at !== null && new Date(row.expires_at).getTime() <= now.getTime()) {
        throw conflict(`API key ${id} has expired; it can no longer be changed.`);
      }
      const fields: KeyUpdate = {};
      if (input.name !== undefined) fields.name = input.name.trim();
      if (input.allowed_ips !== undefined) fields.allowed_ips = storedAllowlist(input.allowed_ips);
      if (input.rate_limit !== undefined) Object.assign(fields, storedRateLimitColumns(input.rate_limit));
      // A scope whose lapse has passed is gone for good: a PATCH takes it out of the stored scopes, so no
      // change of the lapses or of the scopes can bring it back (a lapsed `full` leaves nothing to narrow).
      const stored = parseStoredScopes(row.scopes);
      const lapses = row.scope_expires_at === null ? [] : parseStoredScopeExpiry(row.scope_expires_at);
      const lapsed = new Set(lapses.filter(([, at]) => at.getTime() <= now.getTime()).map(([scope]) => scope));
      const held = stored.filter((scope) => !lapsed.has(scope));
      let scopes = held;
      if (input.scopes !== undefined) {
        const next = normalizeScopes(input.scopes);
        // `full` holds every scope; otherwise each new scope must be held already (`full` included).
        const widened = held.includes('full') ? [] : next.filter((scope) => !held.includes(scope));
        if (widened.length > 0) throw fieldError('scopes', `can only be narrowed; this key does not hold ${widened.join(', ')} (create a new key for more)`);
        scopes = next;
      }
      if (input.scopes !== undefined || lapsed.size > 0) fields.scopes = JSON.stringify(scopes);
      if (input.scope_expires_at !== undefined) {
        fields.scope_expires_at = storedScopeExpiry(input.scope_expires_at, scopes, row.expires_at, now);
      } else if (input.scopes !== undefined || lapsed.size > 0) {
        // The lapses of scopes the key no longer holds go with them; the others keep their instants.
        const kept = lapses.filter(([scope]) => scopes.includes(scope));
        fields.scope_expires_at = kept.length === 0 ? null : JSON.stringify(Object.fromEntries(kept.map(([scope, at]) => [scope, at.toISOString()])));
      }
      if (input.resources !== undefined) fields.resources = await storedResources(input.resources, accountId, deps.unknownResources);
      if (!(await keys.update(accountId, id, fields, by))) throw conflict(`API key ${id} changed while updating it; try again.`);
      return presentApiKey(await mustGet(accountId, id));
    },

    async revoke(accountId: string, id: string, by: Actor): Promise<void> {
      await mustGet(accountId, id);
      await keys.revoke(accountId, id, clock.now().toISOString(), { by, reason: 'revoked' });
    },

    /**
     * A new secret; the old one works for `expires_in_seconds` (default 0: refused at once). With
     * `retire_old: on_first_use` it also stops at the new secret's first use, and the grace defaults to
     * its maximum (ROLL_GRACE_MAX_SECONDS, 7 days): "until the new one is used" with a bound.
     */
    async roll(accountId: string, id: string, by: Actor, input: { expires_in_seconds?: number | undefined; retire_old?: 'on_first_use' | undefined }) {
      const onFirstUse = input.retire_old === 'on_first_use';
      if (onFirstUse && input.expires_in_seconds === 0) {
        throw fieldError('retire_old', 'on_first_use keeps the old secret until the new one is used, so it needs a grace period: leave expires_in_seconds out (7 days) or make it positive');
      }
      const graceSeconds = input.expires_in_seconds ?? (onFirstUse ? ROLL_GRACE_MAX_SECONDS : 0);
      const row = await mustGet(accountId, id);
      const now = clock.now();
      if (row.revoked_at !== null) throw conflict(`API key ${id} is revoked; create a new key instead.`);
      if (row.expires_at !== null && new Date(row.expires_at).getTime() <= now.getTime()) {
        throw conflict(`API key ${id} has expired; create a new key instead.`);
      }
      const graceEndsAt = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000).toISOString() : null;
      const secret = await keys.roll(accountId, id, { graceEndsAt, retiresOnFirstUse: onFirstUse, at: now.toISOString() }, row.key_hash, by);
      if (secret === null) throw conflict(`API key ${id} changed while rolling it; try again.`);
      return { ...presentApiKey(await mustGet(accountId, id)), key: secret };
    },
  };
}
