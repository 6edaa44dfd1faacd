import { AllowlistEntryError, ipAllowlist } from '../../auth/ip-allowlist.js';
import type { RateLimit, UserPrincipal } from '../../auth/principal.js';
import { checkRateLimit, RateLimitError, storedRateLimit } from '../../auth/rate-limits.js';
import { normalizeScopes, parseStoredScopes, type Scope } from '../../auth/scopes.js';
import { AppError, conflict, notFound } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import type { ApiKeyRow, KeyUpdate } from './api-key-repo.js';
import type { ApiKeyStore } from './api-key-store.js';

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
  allowed_ips: string[] | null;
  rate_limit: { requests: number; per_seconds: number } | null;
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
    allowed_ips: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    rate_limit: presentRateLimit(storedRateLimit(row)),
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
    const path = `rate_limit/${error.field}`;
    throw new AppError('validation_failed', `${path}: ${error.message}`, { errors: [{ path, message: error.message }] });
  }
}

const MAX_LIFETIME_MS = 5 * 366 * 24 * 3600 * 1000;

/** `allowed_ips` as stored (normalized CIDRs as JSON, or null), or a 400 naming the entry. */
function storedAllowlist(entries: readonly string[] | null): string | null {
  if (entries === null) return null;
  try {
    return JSON.stringify(ipAllowlist(entries).cidrs);
  } catch (error) {
    if (!(error instanceof AllowlistEntryError)) throw error;
    const path = error.index === null ? 'allowed_ips' : `allowed_ips/${error.index}`;
    throw new AppError('validation_failed', `${path}: ${error.message}`, { errors: [{ path, message: error.message }] });
  }
}

export function createApiKeyService(deps: { keys: ApiKeyStore; clock: Clock }) {
  const { keys, clock } = deps;

  async function mustGet(accountId: string, id: string): Promise<ApiKeyRow> {
    const row = await keys.get(accountId, id);
    if (!row) throw notFound('API key', id);
    return row;
  }

  return {
    async create(user: UserPrincipal, input: { name: string; scopes?: Scope[] | undefined; expires_at?: string | undefined; allowed_ips?: string[] | null | undefined; rate_limit?: RateLimitInput | undefined }) {
      const now = clock.now();
      let expiresAt: string | null = null;
      if (input.expires_at !== undefined) {
        const at = new Date(input.expires_at);
        // Formats such as leap seconds (23:59:60) pass the schema but are no instant JavaScript can hold.
        if (Number.isNaN(at.getTime()) || at.getTime() <= now.getTime() || at.getTime() - now.getTime() > MAX_LIFETIME_MS) {
          throw new AppError('validation_failed', 'expires_at must be in the future and within 5 years.', {
            errors: [{ path: 'expires_at', message: 'must be in the future and within 5 years' }],
          });
        }
        expiresAt = at.toISOString();
      }
      const { row, secret } = await keys.create({
        id: newId('apiKey', now.getTime()),
        account_id: user.accountId,
        name: input.name.trim(),
        scopes: JSON.stringify(normalizeScopes(input.scopes ?? ['full'])),
        created_at: now.toISOString(),
        created_by: user.userId,
        expires_at: expiresAt,
        allowed_ips: storedAllowlist(input.allowed_ips ?? null),
        ...storedRateLimitColumns(input.rate_limit ?? null),
      });
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

    /** Rename and/or narrow the scopes (CONTRACT §7): a key never gains a scope it was not created with. */
    async update(accountId: string, id: string, input: { name?: string | undefined; scopes?: Scope[] | undefined; allowed_ips?: string[] | null | undefined; rate_limit?: RateLimitInput | undefined }) {
      const row = await mustGet(accountId, id);
      if (row.revoked_at !== null) throw conflict(`API key ${id} is revoked; it can no longer be changed.`);
      if (row.expires_at !== null && new Date(row.expires_at).getTime() <= clock.now().getTime()) {
        throw conflict(`API key ${id} has expired; it can no longer be changed.`);
      }
      const fields: KeyUpdate = {};
      if (input.name !== undefined) fields.name = input.name.trim();
      if (input.allowed_ips !== undefined) fields.allowed_ips = storedAllowlist(input.allowed_ips);
      if (input.rate_limit !== undefined) Object.assign(fields, storedRateLimitColumns(input.rate_limit));
      if (input.scopes !== undefined) {
        const held = parseStoredScopes(row.scopes);
        const next = normalizeScopes(input.scopes);
        // `full` holds every scope; otherwise each new scope must be held already (`full` included).
        const widened = held.includes('full') ? [] : next.filter((scope) => !held.includes(scope));
        if (widened.length > 0) {
          throw new AppError('validation_failed', `scopes: can only be narrowed; this key does not hold ${widened.join(', ')} (create a new key for more).`, {
            errors: [{ path: 'scopes', message: `can only be narrowed; this key does not hold ${widened.join(', ')}` }],
          });
        }
        fields.scopes = JSON.stringify(next);
      }
      if (!(await keys.update(accountId, id, fields))) throw conflict(`API key ${id} changed while updating it; try again.`);
      return presentApiKey(await mustGet(accountId, id));
    },

    async revoke(accountId: string, id: string): Promise<void> {
      await mustGet(accountId, id);
      await keys.revoke(accountId, id, clock.now().toISOString());
    },

    async roll(accountId: string, id: string, graceSeconds: number) {
      const row = await mustGet(accountId, id);
      const now = clock.now();
      if (row.revoked_at !== null) throw conflict(`API key ${id} is revoked; create a new key instead.`);
      if (row.expires_at !== null && new Date(row.expires_at).getTime() <= now.getTime()) {
        throw conflict(`API key ${id} has expired; create a new key instead.`);
      }
      const graceEndsAt = graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000).toISOString() : null;
      const secret = await keys.roll(accountId, id, { graceEndsAt, at: now.toISOString() }, row.key_hash);
      if (secret === null) throw conflict(`API key ${id} changed while rolling it; try again.`);
      return { ...presentApiKey(await mustGet(accountId, id)), key: secret };
    },
  };
}
