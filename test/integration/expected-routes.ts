/**
 * The expected auth requirement of every route, written out by hand from the user documentation page
 * (shared/seed/api-key-scopes.md) and CONTRACT §2/§5. It is deliberately NOT derived from src/: a wrong
 * scope catalogue, a wrong route declaration or a wrong decision function in the server must make the
 * scope matrix and the route inventory fail.
 */

/** The eight scopes of the seed's "Available scopes" table, in its order. */
export type ScopeName =
  | 'full'
  | 'clusters:read'
  | 'clusters:write'
  | 'apps:read'
  | 'apps:deploy'
  | 'apps:manage'
  | 'jobs:read'
  | 'terminal:exec';

export const SEED_SCOPES: readonly ScopeName[] = [
  'full',
  'clusters:read',
  'clusters:write',
  'apps:read',
  'apps:deploy',
  'apps:manage',
  'jobs:read',
  'terminal:exec',
];

/**
 * CONTRACT §5 vocabulary:
 * - 'public': no credentials at all;
 * - 'any principal': any valid user session or API key, whatever its scopes (GET /me);
 * - 'user-only': user sessions only, every API key refused (`full` included) with user_session_required;
 * - 'full': API keys need `full` (a route that accepts keys but names no specific scope);
 * - { scope }: users, and API keys holding `full` or that scope.
 */
export type ExpectedAuth = 'public' | 'any principal' | 'user-only' | 'full' | { scope: Exclude<ScopeName, 'full'> };

export type RouteMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface ExpectedRoute {
  method: RouteMethod;
  /** OpenAPI style: `{id}`, `{pool}`, `{pod}`. */
  path: string;
  auth: ExpectedAuth;
  /** False only for the OpenAPI document itself, which does not list its own endpoint. */
  documented?: boolean;
  /** A query string a request needs to be well-formed (for the matrix's allowed cases). */
  query?: string;
}

const clustersRead = { scope: 'clusters:read' } as const;
const clustersWrite = { scope: 'clusters:write' } as const;
const jobsRead = { scope: 'jobs:read' } as const;
const appsRead = { scope: 'apps:read' } as const;
const appsDeploy = { scope: 'apps:deploy' } as const;
const appsManage = { scope: 'apps:manage' } as const;
const terminalExec = { scope: 'terminal:exec' } as const;

/** Every route that exists: CONTRACT §5 rows (issues 2 and 3), plus the additions marked as ours. */
export const EXPECTED_ROUTES: readonly ExpectedRoute[] = [
  { method: 'GET', path: '/healthz', auth: 'public' },
  { method: 'GET', path: '/readyz', auth: 'public' },
  { method: 'GET', path: '/scopes', auth: 'public' },
  { method: 'GET', path: '/openapi.json', auth: 'public', documented: false },

  { method: 'GET', path: '/me', auth: 'any principal' },

  // "POST/DELETE /api-keys/* — API key management" rejects API keys (seed); listing and reading need `full`.
  { method: 'GET', path: '/api-keys', auth: 'full' },
  { method: 'GET', path: '/api-keys/{id}', auth: 'full' },
  { method: 'POST', path: '/api-keys', auth: 'user-only' },
  { method: 'DELETE', path: '/api-keys/{id}', auth: 'user-only' },
  { method: 'POST', path: '/api-keys/{id}/roll', auth: 'user-only' },

  // clusters:read "List and get clusters, clouds, node pools, pod list/logs"; clusters:write "Manage clouds".
  { method: 'GET', path: '/clouds', auth: clustersRead },
  { method: 'GET', path: '/clouds/{id}', auth: clustersRead },
  { method: 'POST', path: '/clouds', auth: clustersWrite },
  { method: 'PATCH', path: '/clouds/{id}', auth: clustersWrite },
  { method: 'DELETE', path: '/clouds/{id}', auth: clustersWrite },

  // clusters:write "Create, update, upgrade, destroy clusters".
  { method: 'GET', path: '/clusters', auth: clustersRead },
  { method: 'GET', path: '/clusters/{id}', auth: clustersRead },
  { method: 'POST', path: '/clusters', auth: clustersWrite },
  { method: 'PATCH', path: '/clusters/{id}', auth: clustersWrite },
  { method: 'POST', path: '/clusters/{id}/upgrade', auth: clustersWrite },
  { method: 'DELETE', path: '/clusters/{id}', auth: clustersWrite },

  // clusters:write "Manage ... node pools".
  { method: 'GET', path: '/clusters/{id}/node-pools', auth: clustersRead },
  { method: 'POST', path: '/clusters/{id}/node-pools', auth: clustersWrite },
  { method: 'GET', path: '/clusters/{id}/node-pools/{pool}', auth: clustersRead },
  { method: 'PATCH', path: '/clusters/{id}/node-pools/{pool}', auth: clustersWrite },
  { method: 'DELETE', path: '/clusters/{id}/node-pools/{pool}', auth: clustersWrite },

  { method: 'GET', path: '/clusters/{id}/pods', auth: clustersRead },
  { method: 'GET', path: '/clusters/{id}/pods/{pod}/logs', auth: clustersRead },

  // jobs:read "List and get jobs"; clusters:write "... cancel jobs".
  { method: 'GET', path: '/jobs', auth: jobsRead },
  { method: 'GET', path: '/jobs/{id}', auth: jobsRead },
  { method: 'POST', path: '/jobs/{id}/cancel', auth: clustersWrite },

  // Issue 3. apps:read "List and get applications, health checks".
  { method: 'GET', path: '/apps', auth: appsRead },
  { method: 'GET', path: '/apps/{id}', auth: appsRead },
  { method: 'GET', path: '/apps/{id}/health', auth: appsRead },
  { method: 'GET', path: '/apps/{id}/deploys', auth: appsRead },
  { method: 'GET', path: '/apps/{id}/dags', auth: appsRead },
  // apps:manage "Create, update, delete, restart applications".
  { method: 'POST', path: '/apps', auth: appsManage },
  { method: 'PATCH', path: '/apps/{id}', auth: appsManage },
  { method: 'DELETE', path: '/apps/{id}', auth: appsManage },
  { method: 'POST', path: '/apps/{id}/restart', auth: appsManage },
  // apps:deploy "Deploy images, upload DAGs, get deploy scripts, registry tokens, dev credentials".
  { method: 'POST', path: '/apps/{id}/deploys', auth: appsDeploy },
  // Our addition (not in CONTRACT §5): one deploy, so a CI/CD key can follow the deploy it started.
  { method: 'GET', path: '/apps/{id}/deploys/{deploy}', auth: appsDeploy },
  { method: 'POST', path: '/apps/{id}/dags', auth: appsDeploy },
  { method: 'GET', path: '/apps/{id}/deploy-script', auth: appsDeploy },
  { method: 'POST', path: '/apps/{id}/registry-token', auth: appsDeploy },
  { method: 'POST', path: '/apps/{id}/dev-credentials', auth: appsDeploy },
  // terminal:exec "Terminal pod setup".
  { method: 'POST', path: '/clusters/{id}/terminal', auth: terminalExec },
  // Our addition: the terminal gateway redeems a session's single-use token (the token is the credential).
  { method: 'POST', path: '/terminal-sessions/redeem', auth: 'public' },
  // "POST /clusters/{id}/data-plane-token — data plane handoff (needs user email)" rejects API keys (seed).
  { method: 'POST', path: '/clusters/{id}/data-plane-token', auth: 'user-only' },
  { method: 'GET', path: '/.well-known/jwks.json', auth: 'public' },
  // clusters:write "Manage ... GitHub integration".
  { method: 'GET', path: '/integrations/github', auth: clustersRead },
  { method: 'PUT', path: '/integrations/github', auth: clustersWrite },
  { method: 'DELETE', path: '/integrations/github', auth: clustersWrite },
  // "POST /billing/* — billing management" rejects API keys (seed); reading billing needs `full`.
  { method: 'GET', path: '/billing', auth: 'full' },
  { method: 'POST', path: '/billing/subscription', auth: 'user-only' },
  { method: 'POST', path: '/billing/portal-session', auth: 'user-only' },
  // Our addition: the local payment provider's stand-in portal page (no account data, takes no payments).
  { method: 'GET', path: '/billing/local-portal', auth: 'public', query: 'session=0123456789abcdefghijABCDEFGHIJkl' },
];

/** Routes registered by a plugin we do not write (@fastify/swagger-ui): public by prefix, not in the table. */
export const THIRD_PARTY_PUBLIC_PREFIX = '/docs';

export interface KeyScopeSet {
  name: string;
  scopes: ScopeName[];
}

/** The seed's "Scope combinations" table, then each of the eight scopes alone. */
export const KEY_SCOPE_SETS: readonly KeyScopeSet[] = [
  { name: 'full access (default)', scopes: ['full'] },
  { name: 'CI/CD deploy pipeline', scopes: ['apps:deploy', 'clusters:read'] },
  { name: 'monitoring / dashboards', scopes: ['clusters:read', 'apps:read', 'jobs:read'] },
  { name: 'cluster management automation', scopes: ['clusters:read', 'clusters:write'] },
  { name: 'DAG sync bot', scopes: ['apps:deploy'] },
  { name: 'only full', scopes: ['full'] },
  { name: 'only clusters:read', scopes: ['clusters:read'] },
  { name: 'only clusters:write', scopes: ['clusters:write'] },
  { name: 'only apps:read', scopes: ['apps:read'] },
  { name: 'only apps:deploy', scopes: ['apps:deploy'] },
  { name: 'only apps:manage', scopes: ['apps:manage'] },
  { name: 'only jobs:read', scopes: ['jobs:read'] },
  { name: 'only terminal:exec', scopes: ['terminal:exec'] },
];

export type ExpectedKeyOutcome =
  | { allowed: true }
  | { allowed: false; code: 'user_session_required' }
  | { allowed: false; code: 'insufficient_scope'; scope: ScopeName };

/** The scope an API key needs for a route ('full' for routes that name none), or null when scopes do not matter. */
export function scopeNeeded(auth: ExpectedAuth): ScopeName | null {
  if (auth === 'full') return 'full';
  if (typeof auth === 'object') return auth.scope;
  return null;
}

/** Steps 3–4 of CONTRACT §2 for an API key, restated from the seed (not imported from src). */
export function expectedForKey(auth: ExpectedAuth, scopes: readonly ScopeName[]): ExpectedKeyOutcome {
  if (auth === 'public' || auth === 'any principal') return { allowed: true };
  if (auth === 'user-only') return { allowed: false, code: 'user_session_required' };
  // "A key with the full scope bypasses all scope checks."
  if (scopes.includes('full')) return { allowed: true };
  const needed = scopeNeeded(auth) ?? 'full';
  return scopes.includes(needed) ? { allowed: true } : { allowed: false, code: 'insufficient_scope', scope: needed };
}

export function describeAuth(auth: ExpectedAuth): string {
  return typeof auth === 'object' ? auth.scope : auth;
}

/** `/clusters/:id/node-pools/:pool` → `/clusters/{id}/node-pools/{pool}`. */
export function toOpenApiPath(fastifyPath: string): string {
  return fastifyPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

export const routeKey = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;
