/**
 * The expected auth requirement of every route, written out by hand from the user documentation page
 * (shared/seed/api-key-scopes.md) and CONTRACT §2/§5. It is deliberately NOT derived from src/: a wrong
 * scope catalogue, a wrong route declaration or a wrong decision function in the server must make the
 * scope matrix and the route inventory fail.
 *
 * It also holds how to build a well-formed request to each route (ids for its path, a body that passes
 * validation), so every suite driven by the table (scope matrix, tenancy, the negative suite) reaches a
 * new route the moment it is added here, or fails loudly when it cannot.
 */

import { multipartBody } from '../helpers/dags-archives.js';

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
  // CONTRACT §7 (issue 12): the pre-flight of a request, for the calling credential.
  { method: 'GET', path: '/me/check', auth: 'any principal', query: 'method=GET&path=/clusters' },

  // "POST/DELETE /api-keys/* — API key management" rejects API keys (seed); listing and reading need `full`.
  { method: 'GET', path: '/api-keys', auth: 'full' },
  { method: 'GET', path: '/api-keys/{id}', auth: 'full' },
  { method: 'POST', path: '/api-keys', auth: 'user-only' },
  { method: 'DELETE', path: '/api-keys/{id}', auth: 'user-only' },
  { method: 'POST', path: '/api-keys/{id}/roll', auth: 'user-only' },
  // CONTRACT §7 (issue 12): rename or narrow a key; user-only like the rest of key management.
  { method: 'PATCH', path: '/api-keys/{id}', auth: 'user-only' },
  // CONTRACT §7 (issue 12), "Seeing what a key does": read like the key itself, so keys need `full`.
  { method: 'GET', path: '/api-keys/{id}/activity', auth: 'full' },
  { method: 'GET', path: '/api-keys/{id}/usage', auth: 'full' },
  // CONTRACT §7 (issue 13), "Lifecycle and response": the account's audit trail needs `full`.
  { method: 'GET', path: '/events', auth: 'full' },
  // CONTRACT §7 (issue 13): webhook endpoints are managed by users and read with `full`.
  { method: 'GET', path: '/webhooks', auth: 'full' },
  { method: 'POST', path: '/webhooks', auth: 'user-only' },
  { method: 'DELETE', path: '/webhooks/{id}', auth: 'user-only' },
  { method: 'POST', path: '/webhooks/{id}/test', auth: 'user-only' },
  { method: 'GET', path: '/webhooks/{id}/deliveries', auth: 'full' },

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
  // Our additions (issue 11): the Docker token realm authenticates its own Basic credentials, and the
  // certificates a stock registry trusts.
  { method: 'GET', path: '/registry/token', auth: 'public', query: 'service=registry.skaledata.local' },
  { method: 'GET', path: '/.well-known/registry-certs.pem', auth: 'public' },
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
  // CONTRACT §7 (issue 13): called by GitHub and by Clerk, who prove themselves by signing the body.
  { method: 'POST', path: '/secret-scanning/github', auth: 'public' },
  { method: 'POST', path: '/webhooks/clerk', auth: 'public' },
  // Issue 15: the web dashboard's page; not an API operation, so not in the document. Its built files are
  // under FILE_PREFIXES; its development sign-in (POST /dev/sign-in) exists only with the local
  // development issuer, which the harness does not run (dashboard.test.ts covers both).
  { method: 'GET', path: '/', auth: 'public', documented: false },
];

/**
 * Routes that serve files, public by prefix and not in the table: the rendered reference (a plugin we do
 * not write, @fastify/swagger-ui) and the dashboard's built assets (named by the build's hashes).
 */
export const FILE_PREFIXES = ['/docs', '/assets'] as const;

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

// ---------------------------------------------------------------------------------------------------
// Requests: the ids a path names and a body that passes validation, for every route of the table.
// ---------------------------------------------------------------------------------------------------

/** One id of every kind a path in the table can name. */
export interface Ids {
  key: string;
  cloud: string;
  cluster: string;
  pool: string;
  pod: string;
  job: string;
  app: string;
  deploy: string;
  webhook: string;
}

export type IdKind = keyof Ids;

/** Well-formed ids (prefix + 25 base62 characters) that name nothing, and a valid pod name no cluster runs. */
export const MISSING_IDS: Readonly<Ids> = {
  key: 'key_0000000000000000000000000',
  cloud: 'cld_0000000000000000000000000',
  cluster: 'cls_0000000000000000000000000',
  pool: 'np_0000000000000000000000000',
  pod: 'no-such-pod',
  job: 'job_0000000000000000000000000',
  app: 'app_0000000000000000000000000',
  deploy: 'dep_0000000000000000000000000',
  webhook: 'whk_0000000000000000000000000',
};

/** `{id}` names the resource of the path's first segment (`/clusters/{id}/...` → a cluster). */
const ID_KIND_BY_RESOURCE = new Map<string, IdKind>([
  ['api-keys', 'key'],
  ['clouds', 'cloud'],
  ['clusters', 'cluster'],
  ['jobs', 'job'],
  ['apps', 'app'],
  ['webhooks', 'webhook'],
]);

/** Every other parameter names one kind wherever it appears. */
const ID_KIND_BY_PARAMETER = new Map<string, IdKind>([
  ['pool', 'pool'],
  ['pod', 'pod'],
  ['deploy', 'deploy'],
]);

const PARAMETER = /\{([^{}]*)\}/g;

export const hasPathParameters = (route: ExpectedRoute): boolean => route.path.includes('{');

/**
 * The id kind of each `{...}` in `path`, in order. A parameter (or a resource for `{id}`) this file
 * does not know throws: a new route with a new kind of id must be taught here, never skipped quietly.
 */
export function pathIdKinds(path: string): IdKind[] {
  const resource = path.split('/')[1] ?? '';
  return [...path.matchAll(PARAMETER)].map(([, name = '']) => {
    const kind = name === 'id' ? ID_KIND_BY_RESOURCE.get(resource) : ID_KIND_BY_PARAMETER.get(name);
    if (kind === undefined) {
      const what = name === 'id' ? `{id} under /${resource}` : `{${name}}`;
      throw new Error(`${path}: no id kind for ${what}; add it to expected-routes.ts (ID_KIND_BY_RESOURCE / ID_KIND_BY_PARAMETER)`);
    }
    return kind;
  });
}

/** `path` with each parameter replaced by the id of its kind from `ids`; throws on a parameter it cannot fill. */
export function fillPath(path: string, ids: Readonly<Ids>): string {
  const kinds = pathIdKinds(path);
  let index = 0;
  const filled = path.replace(PARAMETER, () => ids[kinds[index++] as IdKind]);
  if (/[{}]/.test(filled)) throw new Error(`${path}: a malformed parameter is left in ${filled}`);
  return filled;
}

/** The URL a request to `route` goes to: its path filled with `ids`, plus the query the table gives it. */
export function routeUrl(route: ExpectedRoute, ids: Readonly<Ids>): string {
  return `${fillPath(route.path, ids)}${route.query ? `?${route.query}` : ''}`;
}

/** A request body as app.inject takes it: a JSON object, or bytes with the content type they need. */
export interface RequestBody {
  payload: Record<string, unknown> | Buffer;
  headers: Record<string, string>;
}

const json = (payload: Record<string, unknown>): RequestBody => ({ payload, headers: {} });

/**
 * AWS's documented example key pair (the same as fixtures.ts's AWS_CREDENTIALS), written out here because
 * fixtures.ts reaches the server through harness.ts, and this file imports nothing of the server.
 */
const EXAMPLE_AWS_CREDENTIALS = { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' };

/** Writes that take no body: the id in the path is the whole request. */
export const WRITES_WITHOUT_BODY = new Set([
  'DELETE /api-keys/{id}',
  'DELETE /clouds/{id}',
  'DELETE /clusters/{id}',
  'DELETE /clusters/{id}/node-pools/{pool}',
  'POST /jobs/{id}/cancel',
  'DELETE /apps/{id}',
  'POST /apps/{id}/restart',
  'DELETE /integrations/github',
  'DELETE /webhooks/{id}',
  'POST /webhooks/{id}/test',
]);

/**
 * A body that would succeed if the gate and the lookup let it through (undefined for reads and for
 * writes without a body). Refused requests carry these, so a leak in the gate or in tenancy shows up as
 * a changed row, and an answer is decided by the gate or the lookup, never by validation.
 * A write route with no entry here throws, so a new one cannot be sent without a body by accident.
 */
export function validBody(route: ExpectedRoute, ids: Readonly<Ids>): RequestBody | undefined {
  const key = routeKey(route.method, route.path);
  if (route.method === 'GET' || WRITES_WITHOUT_BODY.has(key)) return undefined;
  switch (key) {
    case 'POST /api-keys':
      return json({ name: 'escalation-attempt', scopes: ['full'] });
    case 'POST /api-keys/{id}/roll':
      return json({ expires_in_seconds: 0 });
    case 'PATCH /api-keys/{id}':
      return json({ name: 'renamed-key' });
    case 'POST /clouds':
      return json({ name: 'leaked-cloud', provider: 'aws', region: 'us-east-1', credentials: EXAMPLE_AWS_CREDENTIALS });
    case 'PATCH /clouds/{id}':
      return json({ name: 'renamed-cloud' });
    case 'POST /clusters':
      return json({ name: 'leaked-cluster', cloud_id: ids.cloud });
    case 'PATCH /clusters/{id}':
      return json({ name: 'renamed-cluster' });
    case 'POST /clusters/{id}/upgrade':
      return json({ kubernetes_version: '1.33' });
    case 'POST /clusters/{id}/node-pools':
      return json({ name: 'leaked-pool', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 1 });
    case 'PATCH /clusters/{id}/node-pools/{pool}':
      return json({ desired_size: 2 });
    case 'POST /apps':
      return json({ name: 'leaked-app', cluster_id: ids.cluster, type: 'service' });
    case 'PATCH /apps/{id}':
      return json({ name: 'renamed-app' });
    case 'POST /apps/{id}/deploys':
      return json({ image: 'registry.example.com/team/leaked:v2' });
    case 'POST /apps/{id}/dags': {
      // The upload reads multipart only: a JSON body is refused with 415 by its content-type parser, after
      // the gate but before the lookup. One real DAG file lets the lookup (or the upload itself) decide.
      const form = multipartBody([{ filename: 'dags/leaked.py', data: "from airflow import DAG\n\nwith DAG('leaked') as dag:\n    pass\n" }]);
      return { payload: form.payload, headers: form.headers };
    }
    case 'POST /apps/{id}/registry-token':
    case 'POST /apps/{id}/dev-credentials':
    case 'POST /clusters/{id}/terminal':
    case 'POST /clusters/{id}/data-plane-token':
    case 'POST /billing/portal-session':
      return json({});
    case 'POST /terminal-sessions/redeem':
      return json({ token: 'not-a-terminal-token' });
    case 'PUT /integrations/github':
      return json({ installation_id: 12345, repository: 'acme/dags', branch: 'main', dag_path: 'dags/' });
    case 'POST /webhooks':
      // A public address, so the body is valid whatever WEBHOOK_ALLOW_PRIVATE says (no DNS: an IP literal).
      return json({ url: 'https://203.0.114.10/hooks/leaked', event_types: ['*'] });
    case 'POST /billing/subscription':
      return json({ plan: 'team' });
    // Signed bodies are read as raw JSON bytes; unsigned (as here) they are refused before anything is read.
    case 'POST /secret-scanning/github':
      return {
        payload: Buffer.from(JSON.stringify([{ token: 'skd_0000000000000000000000000000000000000', type: 'skaledata_api_key', url: 'https://github.com/acme/app/blob/main/.env', source: 'content' }])),
        headers: { 'content-type': 'application/json' },
      };
    case 'POST /webhooks/clerk':
      return {
        payload: Buffer.from(JSON.stringify({ type: 'organization.deleted', object: 'event', data: { id: 'org_leaked', deleted: true } })),
        headers: { 'content-type': 'application/json' },
      };
    default:
      throw new Error(`${key}: no valid body; add one to validBody in expected-routes.ts (or to WRITES_WITHOUT_BODY)`);
  }
}

/**
 * The tables that hold an account's rows (each has account_id): A's rows in them, and every table's row
 * count (job steps and logs hang off jobs), are where B's attempts could leave a trace.
 */
export const ACCOUNT_TABLES = [
  'api_keys',
  'clouds',
  'clusters',
  'node_pools',
  'jobs',
  'apps',
  'deploys',
  'dag_bundles',
  'dev_credentials',
  'terminal_sessions',
  'github_integrations',
  'billing_accounts',
  'usage_records',
] as const;
export const COUNTED_TABLES = [...ACCOUNT_TABLES, 'job_steps', 'job_logs'] as const;

/**
 * Issue 15: Prometheus metrics, served on the API port only when METRICS_TOKEN is set without METRICS_PORT.
 * Kept out of EXPECTED_ROUTES, whose suites run with metrics off (where GET /metrics is an unknown path).
 * Public to the auth gate, like the signature-checked endpoints: it checks its own credential, the metrics
 * token. Operational, not part of the API: not in the OpenAPI document.
 */
export const METRICS_ROUTE: ExpectedRoute = { method: 'GET', path: '/metrics', auth: 'public', documented: false };
