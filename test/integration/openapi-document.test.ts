import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { createRunningApp } from '../helpers/tokens-fixtures.js';
import { EXPECTED_ROUTES, fillPath, MISSING_IDS, routeKey, scopeNeeded, type ExpectedAuth, type ExpectedRoute } from './expected-routes.js';

/**
 * Issue 11 item 2: an OpenAPI document a generator is happy with. Read through GET /openapi.json, and
 * checked against the route table of expected-routes.ts (written from the seed, not from src/) and against
 * what the server really answers.
 */

interface MediaType {
  schema?: Schema;
  encoding?: Record<string, { contentType?: string }>;
}
interface Schema {
  $ref?: string;
  type?: string;
  title?: string;
  format?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  [key: string]: unknown;
}
interface Response {
  $ref?: string;
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  'x-required-scope'?: string;
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, Response>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; description?: string; license?: { name: string; identifier?: string; url?: string } };
  servers?: Array<{ url: string }>;
  tags?: Array<{ name: string; description?: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; responses?: Record<string, Response> };
}

const DOCUMENTED = EXPECTED_ROUTES.filter((route) => route.documented !== false);

/** The words the reference shows after each summary, restated from CONTRACT §5's vocabulary. */
function expectedSummaryEnd(auth: ExpectedAuth): string {
  if (auth === 'public') return 'public';
  if (auth === 'user-only') return 'user session only';
  if (auth === 'any principal') return 'any user session or API key';
  if (auth === 'full') return 'API keys need full';
  return `scope ${auth.scope}`;
}

/** Every `$ref` in `value`. */
function refsIn(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) for (const item of value) refsIn(item, into);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') into.add(inner);
      else refsIn(inner, into);
    }
  }
  return into;
}

const SCHEMA_REF = '#/components/schemas/';

describe(`the OpenAPI document (${TEST_DIALECT})`, () => {
  let h: Harness;
  let user: Account;
  let document: OpenApiDocument;

  beforeAll(async () => {
    // Jobs run: the text-answer test needs a running cluster.
    h = await startHarness({ runJobs: true, env: { PUBLIC_URL: 'https://api.skaledata.test/v1' } });
    user = await h.newAccount();
    const response = await h.inject({ method: 'GET', url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    document = response.json() as OpenApiDocument;
  });
  afterAll(async () => h?.close());

  const operation = (route: ExpectedRoute): Operation => {
    const found = document.paths[route.path]?.[route.method.toLowerCase()];
    if (!found) throw new Error(`${routeKey(route.method, route.path)} is not in the document`);
    return found;
  };
  const operations = (): Array<[string, Operation]> =>
    Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => [routeKey(method, path), op] as [string, Operation]));
  const resolve = (schema: Schema | undefined): Schema | undefined =>
    schema?.$ref?.startsWith(SCHEMA_REF) ? document.components.schemas[schema.$ref.slice(SCHEMA_REF.length)] : schema;

  it('is OpenAPI 3.1 with the configured PUBLIC_URL as its server, a licence, a description and described tags', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([expect.objectContaining({ url: 'https://api.skaledata.test/v1' })]);
    expect(document.info.license?.name).toEqual(expect.any(String));
    expect(document.info.license?.identifier ?? document.info.license?.url).toEqual(expect.any(String));
    expect(document.info.description?.length).toBeGreaterThan(50);
    const tags = new Map((document.tags ?? []).map((tag) => [tag.name, tag.description ?? '']));
    for (const [key, op] of operations()) {
      expect(op.tags?.length, key).toBeGreaterThan(0);
      for (const tag of op.tags ?? []) expect(tags.get(tag), `${key}: tag ${tag}`).toMatch(/\S/);
    }
  });

  it('gives every operation a camelCase operationId, unique in the document', () => {
    const ids = operations().map(([key, op]) => {
      expect(op.operationId, key).toMatch(/^[a-z][A-Za-z0-9]*$/);
      return op.operationId;
    });
    expect(ids).toHaveLength(DOCUMENTED.length);
    expect(new Set(ids).size).toBe(ids.length);
    // A few a generator's users will type (issue 11's examples).
    expect(operation({ method: 'GET', path: '/clusters', auth: 'public' }).operationId).toBe('listClusters');
    expect(operation({ method: 'GET', path: '/clusters/{id}', auth: 'public' }).operationId).toBe('getCluster');
    expect(operation({ method: 'POST', path: '/clusters', auth: 'public' }).operationId).toBe('createCluster');
    expect(operation({ method: 'DELETE', path: '/api-keys/{id}', auth: 'public' }).operationId).toBe('deleteApiKey');
  });

  it('names the resource, list and problem schemas in components and refers to them by $ref', () => {
    const names = ['Cluster', 'ClusterList', 'ClusterAccepted', 'Job', 'JobList', 'JobWithLogs', 'ApiKey', 'ApiKeyList', 'ApiKeyCreated', 'App', 'AppList', 'Deploy', 'DeployList', 'NodePool', 'NodePoolList', 'Cloud', 'CloudList', 'Problem', 'FieldError'];
    const refs = refsIn(document.paths);
    for (const schema of Object.values(document.components.schemas)) refsIn(schema, refs);
    // Error answers shared by many operations are written once, under components.responses.
    refsIn(document.components.responses, refs);
    for (const name of names) {
      expect(document.components.schemas[name], name).toBeDefined();
      expect(refs.has(`${SCHEMA_REF}${name}`), `${name} is referenced`).toBe(true);
    }
    // Every reference resolves, and every named schema is used.
    const RESPONSE_REF = '#/components/responses/';
    for (const ref of refs) {
      if (ref.startsWith(RESPONSE_REF)) expect(document.components.responses?.[ref.slice(RESPONSE_REF.length)], ref).toBeDefined();
      else expect(document.components.schemas[ref.slice(SCHEMA_REF.length)], ref).toBeDefined();
      expect(ref.startsWith(SCHEMA_REF) || ref.startsWith(RESPONSE_REF), ref).toBe(true);
    }
    for (const name of Object.keys(document.components.schemas)) expect(refs.has(`${SCHEMA_REF}${name}`), `${name} is used`).toBe(true);
    for (const name of Object.keys(document.components.responses ?? {})) expect(refs.has(`${RESPONSE_REF}${name}`), `response ${name} is used`).toBe(true);
    // Where they are used: lists answer the list envelope of their resource, reads the resource.
    const ok = (method: string, path: string, status = '200') => document.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema;
    expect(ok('get', '/clusters')).toEqual({ $ref: `${SCHEMA_REF}ClusterList` });
    expect(ok('get', '/clusters/{id}')).toEqual({ $ref: `${SCHEMA_REF}Cluster` });
    expect(ok('post', '/api-keys', '201')).toEqual({ $ref: `${SCHEMA_REF}ApiKeyCreated` });
    expect(ok('get', '/jobs')).toEqual({ $ref: `${SCHEMA_REF}JobList` });
    expect(document.components.schemas.ClusterList?.properties?.data?.items).toEqual({ $ref: `${SCHEMA_REF}Cluster` });
    const problem = document.components.schemas.Problem;
    expect(Object.keys(problem?.properties ?? {})).toEqual(expect.arrayContaining(['type', 'title', 'status', 'code', 'detail', 'request_id', 'errors', 'required_scope']));
    expect(problem?.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'code', 'detail', 'request_id']));
    expect(problem?.required).not.toContain('errors');
  });

  /** An operation's answer, shared ones (`$ref` to components.responses) resolved. */
  const answer = (op: Operation, status: string): Response | undefined => {
    const response = op.responses[status];
    const shared = '#/components/responses/';
    return response?.$ref?.startsWith(shared) ? document.components.responses?.[response.$ref.slice(shared.length)] : response;
  };
  const problemAt = (op: Operation, status: string): Response | undefined => {
    const response = answer(op, status);
    expect(response?.content?.['application/problem+json']?.schema, `${status} problem+json`).toEqual({ $ref: `${SCHEMA_REF}Problem` });
    return response;
  };

  it.each(DOCUMENTED.filter((route) => route.auth !== 'public').map((route) => [routeKey(route.method, route.path), route] as const))(
    '%s documents 401 (with WWW-Authenticate), its 403 when keys can be refused, and 500, as problem+json',
    (_key, route) => {
      const op = operation(route);
      const unauthorized = problemAt(op, '401');
      expect(unauthorized?.headers).toHaveProperty('WWW-Authenticate');
      expect(unauthorized?.description).toMatch(/unauthenticated/);
      expect(unauthorized?.description).toMatch(/invalid_token/);
      problemAt(op, '500');
      const forbidden = problemAt(op, '403');
      if (route.auth === 'any principal') {
        // Any valid credential may call it: only a key used from outside its allowed_ips is refused (CONTRACT §7).
        expect(forbidden?.description).toMatch(/ip_not_allowed/);
        expect(forbidden?.description).not.toMatch(/insufficient_scope|user_session_required/);
        return;
      }
      if (route.auth === 'user-only') {
        expect(forbidden?.description).toMatch(/user_session_required/);
        expect(forbidden?.description).not.toMatch(/insufficient_scope|ip_not_allowed/);
      } else {
        expect(forbidden?.description).toMatch(/insufficient_scope/);
        expect(forbidden?.description).toMatch(/ip_not_allowed/);
        expect(forbidden?.description).not.toMatch(/user_session_required/);
        expect(forbidden?.headers).toHaveProperty('WWW-Authenticate');
      }
    },
  );

  it.each(DOCUMENTED.map((route) => [routeKey(route.method, route.path), route] as const))('%s documents 400 and 404 as its shape implies', (_key, route) => {
    const op = operation(route);
    const hasInput = (op.parameters?.length ?? 0) > 0 || op.requestBody !== undefined;
    if (hasInput) expect(problemAt(op, '400')?.description).toMatch(/validation_failed/);
    if (route.path.includes('{')) expect(problemAt(op, '404')?.description).toMatch(/not_found/);
    for (const status of Object.keys(op.responses)) {
      if (Number(status) >= 400) expect(answer(op, status)?.content?.['application/problem+json'], `${status}`).toBeDefined();
    }
  });

  it('documents the codes services answer beyond the shape: 409 for busy resources and plan limits, 429 for terminals', () => {
    const at = (method: string, path: string) => document.paths[path]?.[method] as Operation;
    expect(problemAt(at('post', '/clusters'), '409')?.description).toMatch(/plan_limit_reached/);
    expect(problemAt(at('delete', '/clouds/{id}'), '409')?.description).toMatch(/conflict/);
    expect(problemAt(at('post', '/jobs/{id}/cancel'), '409')?.description).toMatch(/conflict/);
    expect(problemAt(at('post', '/clusters/{id}/terminal'), '429')?.headers).toHaveProperty('Retry-After');
    expect(problemAt(at('post', '/apps/{id}/dags'), '413')?.description).toMatch(/payload_too_large/);
  });

  it.each(DOCUMENTED.map((route) => [routeKey(route.method, route.path), route] as const))(
    "%s ends its summary with the table's requirement, in agreement with x-required-scope",
    (_key, route) => {
      const op = operation(route);
      expect(op.summary).toMatch(new RegExp(` · ${expectedSummaryEnd(route.auth).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
      const scope = op['x-required-scope'];
      expect(scope).toBe(scopeNeeded(route.auth) ?? undefined);
      if (scope === 'full') expect(op.summary).toMatch(/ · API keys need full$/);
      else if (scope !== undefined) expect(op.summary?.endsWith(` · scope ${scope}`)).toBe(true);
    },
  );

  it('the rendered reference serves the same document, summaries included', async () => {
    const response = await h.inject({ method: 'GET', url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    const rendered = response.json() as OpenApiDocument;
    expect(rendered.paths['/clusters']?.get?.summary).toBe(document.paths['/clusters']?.get?.summary);
  });

  /** The six bodies the server treats as optional (issue 11), named here so a change shows up in review. */
  const OPTIONAL_BODIES = [
    'POST /api-keys/{id}/roll',
    'POST /billing/portal-session',
    'POST /clusters/{id}/terminal',
    'POST /clusters/{id}/data-plane-token',
    'POST /apps/{id}/registry-token',
    'POST /apps/{id}/dev-credentials',
  ];

  it('marks exactly the six optional bodies required: false', () => {
    const optional = operations()
      .filter(([, op]) => op.requestBody?.required === false)
      .map(([key]) => key);
    expect(optional.sort()).toEqual([...OPTIONAL_BODIES].sort());
  });

  it.each(DOCUMENTED.filter((route) => route.method !== 'GET').map((route) => [routeKey(route.method, route.path), route] as const))(
    '%s: the body is documented as required exactly when the server refuses a request without one',
    async (_key, route) => {
      const op = operation(route);
      const json = op.requestBody?.content['application/json'];
      if (!json) return;
      // A user session passes every gate; missing ids make an accepted request end at the lookup (404).
      const response = await h.inject({ method: route.method, url: fillPath(route.path, MISSING_IDS), headers: user.auth });
      const refusedForBody = response.statusCode === 400 && (response.json() as Problem).errors?.some((error) => error.path === 'body') === true;
      expect({ documentedRequired: op.requestBody?.required, answer: response.statusCode }).toEqual({ documentedRequired: refusedForBody, answer: response.statusCode });
    },
  );

  it('documents the DAG upload as multipart/form-data with binary file parts', () => {
    const body = document.paths['/apps/{id}/dags']?.post?.requestBody;
    expect(body?.required).toBe(true);
    expect(Object.keys(body?.content ?? {})).toEqual(['multipart/form-data']);
    const schema = resolve(body?.content['multipart/form-data']?.schema);
    const binary = { type: 'string', format: 'binary' };
    expect(schema?.properties?.file).toMatchObject({ anyOf: [binary, { type: 'array', items: binary }] });
  });

  it('documents the text answers with the content types the server really sends', async () => {
    const app = await createRunningApp(h, user);
    const script = await h.inject({ method: 'GET', url: `/apps/${app.appId}/deploy-script`, headers: user.auth });
    expect(script.statusCode).toBe(200);
    const scriptTypes = Object.keys(document.paths['/apps/{id}/deploy-script']?.get?.responses['200']?.content ?? {});
    expect(scriptTypes).toEqual(['text/x-shellscript']);
    expect(script.headers['content-type']).toMatch(/^text\/x-shellscript/);

    const logs = document.paths['/clusters/{id}/pods/{pod}/logs']?.get?.responses['200']?.content ?? {};
    expect(Object.keys(logs)).toEqual(['text/plain']);
    expect(logs['text/plain']?.schema).toEqual({ type: 'string' });
  });

  it('documents error answers without changing them: real problems keep their extra fields', async () => {
    // Were the documented Problem schema the route's response schema, the serializer would shape these bodies.
    const key = await h.createKey(user, ['jobs:read']);
    const refused = await h.inject({ method: 'GET', url: '/clusters', headers: bearer(key.key) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'insufficient_scope', required_scope: 'clusters:read' });
    const invalid = await h.inject({ method: 'POST', url: '/clouds', headers: user.auth, payload: { name: 'x', provider: 'nope' } });
    expect(invalid.statusCode).toBe(400);
    expect((invalid.json() as Problem).errors?.length).toBeGreaterThan(0);
  });
});
