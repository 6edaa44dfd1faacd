import Fastify, { type HTTPMethods } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/auth/authenticator.js';
import { MissingFenceRuleError } from '../../src/auth/resource-fence.js';
import { MissingAuthDeclarationError, registerAuthGate } from '../../src/http/auth-gate.js';
import { StorageFaults } from '../../src/db/faults.js';
import { registerErrorHandling } from '../../src/http/error-handler.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import {
  EXPECTED_ROUTES,
  METRICS_ROUTE,
  routeKey,
  scopeNeeded,
  FILE_PREFIXES,
  toOpenApiPath,
  type ExpectedRoute,
} from './expected-routes.js';

/**
 * The route inventory: the server fails closed on a route without an auth declaration, the routes it
 * serves are exactly the hand-written table (expected-routes.ts), the OpenAPI document states the same
 * requirement for each operation, and no unknown path, method or spelling of a path gets around the gate.
 */

interface RegisteredRoute {
  method: HTTPMethods;
  path: string;
}

/**
 * Fastify offers no list of routes after start-up except printRoutes(); this reads its tree
 * ("├── /clusters (GET, HEAD, POST)", children indented by four characters) back into full paths.
 */
function routesFromTree(tree: string): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(match[2] ?? '');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      routes.push({ method: method as HTTPMethods, path: stack.join('') });
    }
  }
  return routes;
}

const servesFiles = (path: string): boolean => FILE_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));

const EXPECTED_KEYS = new Set(EXPECTED_ROUTES.map((route) => routeKey(route.method, route.path)));

interface Operation {
  security?: Array<Record<string, string[]>>;
  'x-required-scope'?: string;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}

const MISSING_CLUSTER = 'cls_0000000000000000000000000';

/** An authenticator that must never be reached by the registration tests. */
const unreachableAuthenticator: Authenticator = async () => {
  throw new Error('the authenticator is not part of route registration');
};

/** Fence lookups that must never be reached either: registration only reads the rules. */
const unreachableLookups = {
  appCluster: () => Promise.reject(new Error('not reached')),
  jobOwner: () => Promise.reject(new Error('not reached')),
  cloudCarries: () => Promise.reject(new Error('not reached')),
};
const GATE = { now: () => Date.now(), fence: unreachableLookups };

describe('an undeclared route stops the server', () => {
  it('refuses to register a route without config.auth, and registers one that declares it', async () => {
    const app = Fastify({ logger: false });
    registerAuthGate(app, unreachableAuthenticator, { ...GATE, thirdPartyPublicPrefixes: ['/docs'] });
    registerErrorHandling(app, new StorageFaults());

    expect(() => app.get('/undeclared', async () => ({ leaked: true }))).toThrow(MissingAuthDeclarationError);
    expect(() => app.post('/undeclared-write', { config: {} }, async () => ({ leaked: true }))).toThrow(MissingAuthDeclarationError);
    // The third-party escape hatch covers its prefix only, not names that merely start with it.
    expect(() => app.get('/docsx', async () => ({ leaked: true }))).toThrow(MissingAuthDeclarationError);

    expect(() => app.get('/declared', { config: { auth: { kind: 'public' } } }, async () => ({ ok: true }))).not.toThrow();
    expect(() => app.get('/docs/extra', async () => ({ ok: true }))).not.toThrow();
    await app.ready();
    expect((await app.inject({ method: 'GET', url: '/declared' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/docs/extra' })).statusCode).toBe(200);
    // The refused routes were never added.
    expect((await app.inject({ method: 'GET', url: '/undeclared' })).statusCode).toBe(404);
    await app.close();
  });

  it('refuses an undeclared route inside an encapsulated plugin when the server starts', async () => {
    const app = Fastify({ logger: false });
    registerAuthGate(app, unreachableAuthenticator, GATE);
    app.register(async (child) => {
      child.get('/declared', { config: { auth: { kind: 'public' } } }, async () => ({ ok: true }));
      child.get('/undeclared', async () => ({ leaked: true }));
    });
    await expect(app.ready()).rejects.toThrow(MissingAuthDeclarationError);
    await app.close().catch(() => undefined);
  });

  it('refuses a route API keys may call whose family has no resource rule (a fenced key would reach it unchecked)', async () => {
    const app = Fastify({ logger: false });
    registerAuthGate(app, unreachableAuthenticator, GATE);
    expect(() => app.get('/widgets/:id', { config: { auth: { kind: 'scope', scope: 'clusters:read' } } }, async () => ({}))).toThrow(MissingFenceRuleError);
    // Public and user-only routes never see a key past the gate: no rule needed.
    expect(() => app.get('/widgets-public', { config: { auth: { kind: 'public' } } }, async () => ({}))).not.toThrow();
    expect(() => app.post('/widgets', { config: { auth: { kind: 'userOnly' } } }, async () => ({}))).not.toThrow();
    await app.close();
  });

  it('a plugin whose routes all declare auth starts and serves them', async () => {
    const app = Fastify({ logger: false });
    registerAuthGate(app, unreachableAuthenticator, GATE);
    app.register(async (child) => {
      child.get('/declared', { config: { auth: { kind: 'public' } } }, async () => ({ ok: true }));
    });
    await app.ready();
    expect(app.hasRoute({ method: 'GET', url: '/declared' })).toBe(true);
    const response = await app.inject({ method: 'GET', url: '/declared' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ ok: true });
    await app.close();
  });
});

describe(`route inventory (${TEST_DIALECT})`, () => {
  let h: Harness;
  let user: Account;
  let noScopeKey: string;
  let fullKey: string;

  beforeAll(async () => {
    // Building the real app registers every real route through the gate: it would throw on an undeclared one.
    h = await startHarness();
    user = await h.newAccount();
    // A key whose one scope (terminal:exec) no GET route asks for.
    noScopeKey = (await h.createKey(user, ['terminal:exec'])).key;
    fullKey = (await h.createKey(user, ['full'])).key;
  });
  afterAll(async () => h?.close());

  let document: OpenApiDocument | null = null;
  /** Fetched once (generating it is not free); every test that reads it still goes through GET /openapi.json. */
  async function openApi(): Promise<OpenApiDocument> {
    if (document === null) {
      const response = await h.inject({ method: 'GET', url: '/openapi.json' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      document = response.json() as OpenApiDocument;
    }
    return document;
  }

  function registeredRoutes(): RegisteredRoute[] {
    const routes = routesFromTree(h.app.printRoutes({ commonPrefix: false }));
    // The parser must read the tree right, or the comparisons below prove nothing. (The docs plugin's
    // wildcard asset routes are left out: hasRoute does not find the HEAD that @fastify/static adds.)
    for (const route of routes.filter((r) => !servesFiles(r.path))) {
      expect(h.app.hasRoute({ method: route.method, url: route.path }), routeKey(route.method, route.path)).toBe(true);
    }
    return routes;
  }

  it("reads the real app's routes back from its router: one per table row, plus a HEAD beside each GET", () => {
    // Building the app registered every real route through the gate, which throws on an undeclared one.
    const routes = registeredRoutes().filter((route) => !servesFiles(route.path));
    const keys = (method: string) => new Set(routes.filter((route) => route.method === method).map((route) => toOpenApiPath(route.path)));
    const notHead = new Set(routes.filter((route) => route.method !== 'HEAD').map((route) => routeKey(route.method, toOpenApiPath(route.path))));
    expect(notHead.size).toBe(EXPECTED_ROUTES.length);
    expect(keys('HEAD')).toEqual(keys('GET'));
  });

  it('every route in the app is in the expected table, and every table route is in the app', () => {
    const routes = registeredRoutes();
    const served = new Set<string>();
    const unexpected: string[] = [];
    for (const route of routes) {
      if (servesFiles(route.path)) continue;
      const key = routeKey(route.method, toOpenApiPath(route.path));
      if (route.method === 'HEAD') {
        // Fastify adds HEAD beside each GET; it must not exist on its own.
        if (!EXPECTED_KEYS.has(routeKey('GET', toOpenApiPath(route.path)))) unexpected.push(key);
        continue;
      }
      served.add(key);
      if (!EXPECTED_KEYS.has(key)) unexpected.push(key);
    }
    const missing = [...EXPECTED_KEYS].filter((key) => !served.has(key));
    expect({ servedButNotInTable: unexpected, inTableButNotServed: missing }).toEqual({ servedButNotInTable: [], inTableButNotServed: [] });
  });

  it('the OpenAPI document lists exactly the table routes', async () => {
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries((await openApi()).paths)) {
      for (const method of Object.keys(operations)) documented.add(routeKey(method, path));
    }
    const expected = EXPECTED_ROUTES.filter((route) => route.documented !== false).map((route) => routeKey(route.method, route.path));
    expect([...documented].sort()).toEqual([...expected].sort());
  });

  it.each(EXPECTED_ROUTES.filter((route) => route.documented !== false).map((route) => [routeKey(route.method, route.path), route] as const))(
    'OpenAPI security and x-required-scope of %s match the table',
    async (_name, route: ExpectedRoute) => {
      const operation = (await openApi()).paths[route.path]?.[route.method.toLowerCase()];
      expect(operation, 'operation missing from /openapi.json').toBeDefined();
      const security = operation?.security;
      const required = operation?.['x-required-scope'];
      if (route.auth === 'public') {
        expect(security).toEqual([]);
        expect(required).toBeUndefined();
      } else if (route.auth === 'user-only') {
        expect(security).toEqual([{ userSession: [] }]);
        expect(required).toBeUndefined();
      } else if (route.auth === 'any principal') {
        expect(security).toEqual(expect.arrayContaining([{ userSession: [] }, { apiKey: [] }]));
        expect(security).toHaveLength(2);
        expect(required).toBeUndefined();
      } else {
        const scope = scopeNeeded(route.auth);
        expect(required).toBe(scope);
        expect(security).toEqual(expect.arrayContaining([{ userSession: [] }, { apiKey: [scope] }]));
        expect(security).toHaveLength(2);
      }
    },
  );

  it('the OpenAPI document itself and the rendered reference are public', async () => {
    for (const url of ['/openapi.json', '/docs', '/docs/json']) {
      const response = await h.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(200);
    }
  });

  it("the reference's files are served from their folder, and a path that leaves it answers like an absent file", async () => {
    const css = await h.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    // Traversals @fastify/static has had to fix (encoded dots and slashes, backslashes), toward package.json.
    for (const url of [
      '/docs/static/../../package.json',
      '/docs/static/..%2f..%2f..%2fpackage.json',
      '/docs/static/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/docs/static/..%5c..%5c..%5cpackage.json',
      '/docs/static/%2e%2e%5c%2e%2e%5c%2e%2e%5cpackage.json',
      '/docs/static/..%252f..%252fpackage.json',
    ]) {
      const response = await h.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(response.json(), url).toMatchObject({ code: 'not_found' });
      expect(response.body, url).not.toContain('skaledata-control-plane');
    }
  });

  it.each(EXPECTED_ROUTES.filter((route) => route.auth !== 'public').map((route) => [routeKey(route.method, route.path), route] as const))(
    '%s without credentials → 401 unauthenticated',
    async (_name, route: ExpectedRoute) => {
      const url = route.path.replace('{id}', MISSING_CLUSTER).replace('{pool}', 'np_0000000000000000000000000').replace('{pod}', 'no-such-pod').replace('{deploy}', 'dep_0000000000000000000000000');
      const response = await h.inject({ method: route.method, url, ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} }) });
      expect(response.statusCode).toBe(401);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ code: 'unauthenticated' });
      expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata"');
    },
  );

  it.each(EXPECTED_ROUTES.filter((route) => route.method === 'GET' && typeof route.auth === 'object').map((route) => [route.path, route] as const))(
    'HEAD %s goes through the same gate as GET',
    async (_name, route: ExpectedRoute) => {
      const url = route.path.replace('{id}', MISSING_CLUSTER).replace('{pool}', 'np_0000000000000000000000000').replace('{pod}', 'no-such-pod').replace('{deploy}', 'dep_0000000000000000000000000');
      expect((await h.inject({ method: 'HEAD', url })).statusCode).toBe(401);
      const refused = await h.inject({ method: 'HEAD', url, headers: { authorization: `Bearer ${noScopeKey}` } });
      expect(refused.statusCode).toBe(403);
      expect(refused.headers['www-authenticate']).toBe(`Bearer realm="skaledata", error="insufficient_scope", scope="${scopeNeeded(route.auth)}"`);
    },
  );

  const UNKNOWN: Array<[HTTPMethods, string]> = [
    ['GET', '/admin'],
    ['GET', '/debug'],
    ['GET', '/v0/clusters'],
    ['GET', '/v1/clusters'],
    ['GET', '/api/clusters'],
    ['GET', '/metrics'],
    ['GET', '/internal'],
    ['GET', '/.env'],
    ['GET', '/clusters/a/b'],
    ['PUT', '/clusters'],
    ['DELETE', '/clusters'],
    ['PUT', `/clusters/${MISSING_CLUSTER}`],
    ['PATCH', '/jobs/job_0000000000000000000000000'],
    ['DELETE', '/me'],
    ['POST', '/healthz'],
    ['PUT', '/api-keys'],
    ['PUT', '/api-keys/key_0000000000000000000000000'],
    ['OPTIONS', '/clusters'],
  ];

  it.each(UNKNOWN)('%s %s answers 404 problem+json with or without credentials', async (method, url) => {
    for (const headers of [{}, user.auth, { authorization: `Bearer ${fullKey}` }]) {
      const response = await h.inject({ method, url, headers, ...(method === 'PUT' || method === 'PATCH' || method === 'POST' ? { payload: {} } : {}) });
      expect(response.statusCode, `${method} ${url}: ${response.body.slice(0, 200)}`).toBe(404);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(response.json()).toMatchObject({ status: 404, code: 'not_found' });
    }
  });

  /** Spellings of a canonical path that a router or proxy might treat as the same route. */
  const SPELLINGS: Array<{ method: 'GET' | 'POST'; canonical: string; variants: string[] }> = [
    {
      method: 'GET',
      canonical: '/clusters',
      variants: ['/clusters/', '//clusters', '/Clusters', '/CLUSTERS', '/%63lusters', '/clusters%2F', '/./clusters', '/healthz/../clusters', '/clusters;x', '/clusters%20', '/clusters#x'],
    },
    {
      method: 'GET',
      canonical: `/clusters/${MISSING_CLUSTER}`,
      variants: [
        `/clusters%2F${MISSING_CLUSTER}`,
        `/clusters%2f${MISSING_CLUSTER}`,
        `/clusters/${MISSING_CLUSTER}/`,
        `//clusters/${MISSING_CLUSTER}`,
        `/clusters//${MISSING_CLUSTER}`,
        `/Clusters/${MISSING_CLUSTER}`,
        `/clusters/${MISSING_CLUSTER}/node-pools/..`,
      ],
    },
    {
      method: 'POST',
      canonical: '/clusters',
      variants: ['/clusters/', '//clusters', '/Clusters', '/%63lusters', '/clusters%2F'],
    },
    {
      method: 'POST',
      canonical: '/api-keys',
      variants: ['/api-keys/', '//api-keys', '/API-KEYS', '/%61pi-keys', '/api-keys%2F'],
    },
  ];

  const SPELLING_CASES = SPELLINGS.flatMap(({ method, canonical, variants }) => variants.map((variant) => ({ method, canonical, variant })));

  for (const { method, canonical, variant } of SPELLING_CASES) {
    it(`${method} ${variant} is 404 or gated like ${method} ${canonical}`, async () => {
      const callers: Array<[string, Record<string, string>]> = [
        ['no credentials', {}],
        ['key without the scope', { authorization: `Bearer ${noScopeKey}` }],
        ['full key', { authorization: `Bearer ${fullKey}` }],
      ];
      for (const [who, headers] of callers) {
        const payload = method === 'POST' ? { payload: {} } : {};
        const expected = await h.inject({ method, url: canonical, headers, ...payload });
        const actual = await h.inject({ method, url: variant, headers, ...payload });
        const context = `${who}: ${method} ${variant} → ${actual.statusCode} ${actual.body.slice(0, 200)}`;
        expect(actual.statusCode, context).toBeLessThan(500);
        if (actual.statusCode === 404) {
          expect(actual.headers['content-type'], context).toMatch(/^application\/problem\+json/);
          continue;
        }
        if (expected.statusCode === 401 || expected.statusCode === 403) {
          // Where the canonical path refuses this caller, any other spelling refuses it the same way.
          expect(actual.statusCode, context).toBe(expected.statusCode);
          expect((actual.json() as { code: string }).code, context).toBe((expected.json() as { code: string }).code);
          expect(actual.headers['www-authenticate'], context).toBe(expected.headers['www-authenticate']);
        }
        if (who !== 'full key') expect(actual.statusCode >= 200 && actual.statusCode < 300, context).toBe(false);
      }
    });
  }
});

describe(`route inventory with metrics on the API port (${TEST_DIALECT})`, () => {
  let on: Harness;
  let off: Harness;
  beforeAll(async () => {
    [on, off] = await Promise.all([startHarness({ env: { METRICS_TOKEN: 'metrics-token-of-the-route-inventory' } }), startHarness()]);
  });
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  const served = (h: Harness) => new Set(routesFromTree(h.app.printRoutes({ commonPrefix: false })).map((route) => routeKey(route.method, toOpenApiPath(route.path))));

  it('adds exactly GET /metrics (and the HEAD beside it) to the routes served with metrics off (the table, above)', () => {
    const added = [...served(on)].filter((key) => !served(off).has(key));
    const removed = [...served(off)].filter((key) => !served(on).has(key));
    expect({ added: added.sort(), removed }).toEqual({ added: [routeKey('GET', METRICS_ROUTE.path), routeKey('HEAD', METRICS_ROUTE.path)], removed: [] });
    expect(METRICS_ROUTE.method).toBe('GET');
  });

  it('keeps /metrics out of the OpenAPI document: the same operations as with metrics off', async () => {
    const operations = async (h: Harness) => {
      const documented: string[] = [];
      for (const [path, items] of Object.entries(((await h.inject({ method: 'GET', url: '/openapi.json' })).json() as OpenApiDocument).paths)) {
        for (const method of Object.keys(items)) documented.push(routeKey(method, path));
      }
      return documented.sort();
    };
    expect(METRICS_ROUTE.documented).toBe(false);
    const documented = await operations(on);
    expect(documented).not.toContain(routeKey('GET', METRICS_ROUTE.path));
    expect(documented).toEqual(await operations(off));
  });

  it('checks its own credential: GET and HEAD /metrics without the metrics token → 401 unauthenticated', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const response = await on.inject({ method, url: METRICS_ROUTE.path });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="skaledata"');
    }
  });
});
