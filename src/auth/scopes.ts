/**
 * The scope catalogue, word for word from the user's documentation page (shared/seed/api-key-scopes.md).
 * It is the only place scopes are defined; routes name them, decide() (decision.ts) applies them.
 */
export const SCOPES = [
  'full',
  'clusters:read',
  'clusters:write',
  'apps:read',
  'apps:deploy',
  'apps:manage',
  'jobs:read',
  'terminal:exec',
] as const;

export type Scope = (typeof SCOPES)[number];

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  full: 'All endpoints (default for new keys)',
  'clusters:read': 'List and get clusters, clouds, node pools, pod list/logs',
  'clusters:write':
    'Create, update, upgrade, destroy clusters. Manage clouds, node pools, GitHub integration, cancel jobs',
  'apps:read': 'List and get applications, health checks',
  'apps:deploy': 'Deploy images, upload DAGs, get deploy scripts, registry tokens, dev credentials',
  'apps:manage': 'Create, update, delete, restart applications',
  'jobs:read': 'List and get jobs',
  'terminal:exec': 'Terminal pod setup',
};

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/**
 * What a route asks of its caller. Every route declares one; a route without one stops the server.
 * - public: no credentials at all;
 * - anyPrincipal: any valid user session or API key, whatever its scopes;
 * - scope: users, and API keys holding `full` or that scope;
 * - full: users, and API keys holding `full` (an API-key route that names no specific scope);
 * - userOnly: user sessions only; every API key is refused, `full` included.
 */
export type AuthRequirement =
  | { kind: 'public' }
  | { kind: 'anyPrincipal' }
  | { kind: 'scope'; scope: Exclude<Scope, 'full'> }
  | { kind: 'full' }
  | { kind: 'userOnly' };

export const publicRoute: AuthRequirement = { kind: 'public' };
export const anyPrincipal: AuthRequirement = { kind: 'anyPrincipal' };
export const fullOnly: AuthRequirement = { kind: 'full' };
export const userOnly: AuthRequirement = { kind: 'userOnly' };
export const scope = (name: Exclude<Scope, 'full'>): AuthRequirement => ({ kind: 'scope', scope: name });

/** The scope an API key needs for a route, or null when keys are not a question (public, any, user-only). */
export function requiredScope(requirement: AuthRequirement): Scope | null {
  if (requirement.kind === 'scope') return requirement.scope;
  if (requirement.kind === 'full') return 'full';
  return null;
}

/** A key's scopes as stored (a JSON list); names this build does not know (a newer version's) are dropped. */
export function parseStoredScopes(stored: string): Scope[] {
  const parsed: unknown = JSON.parse(stored);
  return Array.isArray(parsed) ? parsed.filter(isScope) : [];
}

/** Stored form of a requested scope list: in the order given, duplicates removed, `full` alone absorbs the rest. */
export function normalizeScopes(scopes: readonly Scope[]): Scope[] {
  if (scopes.includes('full')) return ['full'];
  return [...new Set(scopes)];
}

/**
 * A key's `scope_expires_at` as stored (`{"<scope>":"<timestamp>"}`), as pairs; scopes this build does not
 * know are dropped (parseStoredScopes drops the scope itself); an unreadable instant counts as lapsed
 * (fail closed).
 */
export function parseStoredScopeExpiry(stored: string): Array<[Scope, Date]> {
  const parsed: unknown = JSON.parse(stored);
  if (typeof parsed !== 'object' || parsed === null) return [];
  const pairs: Array<[Scope, Date]> = [];
  for (const [scope, at] of Object.entries(parsed)) {
    if (!isScope(scope)) continue;
    const instant = typeof at === 'string' ? new Date(at) : new Date(Number.NaN);
    pairs.push([scope, Number.isNaN(instant.getTime()) ? new Date(0) : instant]);
  }
  return pairs;
}
