import swagger, { type SwaggerTransformObject } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { authSummary, securitySchemes } from './auth-gate.js';
import type { ErrorCode } from './errors.js';
import { hoistNamedSchemas } from './openapi-components.js';
import { problemCodes, problemResponse } from './openapi-problems.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The error codes the route's service can answer with beyond those its auth declaration and its
     * shape imply (see openapi-problems.ts): e.g. `conflict` for a resource busy with a job. The
     * OpenAPI document lists them; nothing else reads them.
     */
    problems?: readonly ErrorCode[];
    /**
     * The request body of a route that parses its body itself (the multipart DAG upload), described
     * for the OpenAPI document only: Fastify neither validates nor serializes through it.
     */
    documentedBody?: DocumentedBody;
  }
}

export interface DocumentedBody {
  description: string;
  required: boolean;
  content: Record<string, { schema: Record<string, unknown>; encoding?: Record<string, { contentType: string }> }>;
}

/** Where the rendered reference is served: a plugin we do not write, public by this prefix (auth-gate.ts). */
export const DOCS_PREFIX = '/docs';

/** Every tag an operation may carry, in the order the reference shows them. An undeclared tag stops the server. */
export const TAGS = [
  { name: 'System', description: 'Liveness, readiness, the scope catalogue and the public keys that verify the tokens this API signs. No credentials needed.' },
  { name: 'Identity', description: 'Who is calling: the user or API key behind the credentials, and its account.' },
  { name: 'API keys', description: 'Keys for programs, each with scopes. Managing them needs a user session; reading them needs `full`.' },
  { name: 'Clouds', description: 'Cloud accounts clusters run in. Credentials are write-only: never returned.' },
  { name: 'Clusters', description: 'Kubernetes clusters. Changes are asynchronous: they answer 202 with the job that carries them out.' },
  { name: 'Node pools', description: "Groups of nodes of one instance type in a cluster; resizing and removal are asynchronous." },
  { name: 'Pods', description: "A running cluster's pods and their logs." },
  { name: 'Jobs', description: 'Asynchronous operations: follow one to `succeeded`, `failed` or `canceled`, or cancel it.' },
  { name: 'Apps', description: 'Applications (Airflow or services) on a cluster.' },
  { name: 'Deploys', description: 'Rolling an image out to an application, and the history of it.' },
  { name: 'DAGs', description: "Airflow DAG bundles: immutable versions uploaded as files or one archive, synced to the app's cluster." },
  { name: 'GitHub integration', description: "The account's GitHub App installation that DAGs are synced from." },
  { name: 'Registry', description: 'For stock Docker registries: the token realm docker, podman and skopeo log in through, and the certificates a registry trusts.' },
  { name: 'App credentials', description: 'What a pipeline or a developer needs to build and ship an app: registry tokens, dev credentials, the deploy script.' },
  { name: 'Terminal', description: 'Short-lived terminal sessions in a cluster.' },
  { name: 'Billing', description: "The account's plan and usage. Changing either needs a user session." },
  { name: 'Events', description: "The account's audit trail: who changed what, from where. Written with each change, never without it." },
  { name: 'Webhooks', description: "Endpoints that receive the account's events, signed per Standard Webhooks, and the endpoints SkaleData receives from GitHub secret scanning and Clerk." },
] as const;

export class OpenApiDeclarationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpenApiDeclarationError';
  }
}

/** Operation fields this module writes on the way and removes again before the document is served. */
const PROBLEMS_KEY = 'x-skd-problems';
const OPTIONAL_BODY_KEY = 'x-skd-optional-body';
const DOCUMENTED_BODY_KEY = 'x-skd-documented-body';

const SUCCESS_DESCRIPTIONS: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted: follow the job', '204': 'No Content' };

type Operation = Record<string, unknown> & {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: Array<{ in: string }>;
  requestBody?: { required?: boolean; content?: Record<string, unknown>; description?: string };
  responses?: Record<string, Record<string, unknown> & { description?: string }>;
};

type Document = Record<string, unknown> & { paths?: Record<string, Record<string, Operation>> };

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Per route, before swagger builds the operation: the scope at the end of the summary (the rendered
 * reference lists summaries), and the route's `config` for the document-wide pass below. The route's
 * own schema object is never changed: Fastify validates and serializes with it.
 */
function transformRoute({ schema, url, route }: { schema: FastifySchema; url: string; route: RouteOptions }): { schema: FastifySchema; url: string } {
  const source = schema as Record<string, unknown> | undefined;
  if (source === undefined || source.hide === true) return { schema, url };
  const config = route.config ?? {};
  const documented: Record<string, unknown> = { ...source };
  if (config.auth && typeof source.summary === 'string') documented.summary = `${source.summary} · ${authSummary(config.auth)}`;
  if (config.problems) documented[PROBLEMS_KEY] = config.problems;
  if (config.optionalBody) documented[OPTIONAL_BODY_KEY] = true;
  if (config.documentedBody) documented[DOCUMENTED_BODY_KEY] = config.documentedBody;
  return { schema: documented as FastifySchema, url };
}

/** What the document-wide pass collects: the operationIds seen, and the shared error answers by name. */
interface Collected {
  operationIds: Map<string, string>;
  responses: Map<string, ReturnType<typeof problemResponse>>;
}

/** `['unauthenticated', 'invalid_token']` → `UnauthenticatedOrInvalidToken`: a stable name for one set of codes. */
const responseName = (codes: readonly ErrorCode[]): string =>
  codes.map((code) => code.replace(/(^|_)([a-z])/g, (_match, _sep: string, letter: string) => letter.toUpperCase())).join('Or');

function describeOperation(method: string, path: string, operation: Operation, collected: Collected): void {
  const { operationIds } = collected;
  const where = `${method.toUpperCase()} ${path}`;
  const declared = (operation[PROBLEMS_KEY] as readonly ErrorCode[] | undefined) ?? [];
  const optionalBody = operation[OPTIONAL_BODY_KEY] === true;
  const documentedBody = operation[DOCUMENTED_BODY_KEY] as DocumentedBody | undefined;
  delete operation[PROBLEMS_KEY];
  delete operation[OPTIONAL_BODY_KEY];
  delete operation[DOCUMENTED_BODY_KEY];

  const id = operation.operationId;
  if (typeof id !== 'string' || !/^[a-z][A-Za-z0-9]*$/.test(id)) throw new OpenApiDeclarationError(`${where} needs a camelCase schema.operationId (got ${JSON.stringify(id)}).`);
  const other = operationIds.get(id);
  if (other !== undefined) throw new OpenApiDeclarationError(`operationId ${id} is declared by both ${other} and ${where}.`);
  operationIds.set(id, where);
  if (typeof operation.summary !== 'string') throw new OpenApiDeclarationError(`${where} needs a schema.summary.`);
  const tags = operation.tags ?? [];
  if (tags.length === 0 || tags.some((tag) => !TAGS.some((known) => known.name === tag))) {
    throw new OpenApiDeclarationError(`${where} has tags ${JSON.stringify(tags)}; each operation needs tags declared in TAGS (http/openapi.ts).`);
  }

  if (documentedBody) {
    if (operation.requestBody) throw new OpenApiDeclarationError(`${where} declares both schema.body and config.documentedBody.`);
    operation.requestBody = { description: documentedBody.description, required: documentedBody.required, content: documentedBody.content };
  }
  if (optionalBody) {
    if (!operation.requestBody) throw new OpenApiDeclarationError(`${where} declares optionalBody but has no body schema.`);
    operation.requestBody.required = false;
  }

  const responses = (operation.responses ??= {});
  for (const [status, response] of Object.entries(responses)) {
    if (response.description === 'Default Response' && SUCCESS_DESCRIPTIONS[status]) response.description = SUCCESS_DESCRIPTIONS[status];
  }
  const parameters = operation.parameters ?? [];
  const shape = {
    method,
    auth: (operation['x-auth'] as Parameters<typeof problemCodes>[0]['auth'] | undefined) ?? 'public',
    hasPathParameters: parameters.some((parameter) => parameter.in === 'path'),
    hasQueryOrPath: parameters.length > 0,
    declared,
  };
  for (const [status, codes] of problemCodes(shape)) {
    const key = String(status);
    if (responses[key] !== undefined) throw new OpenApiDeclarationError(`${where} documents ${key} in schema.response; error answers are derived (http/openapi-problems.ts).`);
    // One answer per set of codes, shared by reference (components.responses): the same 401 on 50 operations is written once.
    const name = responseName(codes);
    collected.responses.set(name, problemResponse(codes));
    responses[key] = { $ref: `#/components/responses/${name}` };
  }
}

/**
 * The whole document, once the routes are in: every operation checked (a unique camelCase operationId,
 * a summary, declared tags), its error answers added, optional bodies marked, and every titled schema
 * moved into `components.schemas`. A check that fails throws, and since the document is generated when
 * the server gets ready, the server does not start.
 */
const transformDocument: SwaggerTransformObject = (generated) => {
  if (!('openapiObject' in generated)) throw new OpenApiDeclarationError('Only an OpenAPI 3 document is generated.');
  const document = structuredClone(generated.openapiObject) as Document;
  const collected: Collected = { operationIds: new Map(), responses: new Map() };
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (METHODS.has(method)) describeOperation(method, path, operation, collected);
    }
  }
  const responses = Object.fromEntries([...collected.responses].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  document.components = { ...(document.components as Record<string, unknown> | undefined), responses };
  return hoistNamedSchemas(document) as ReturnType<SwaggerTransformObject>;
};

/**
 * The OpenAPI 3.1 document, built from the routes' own schemas and auth declarations (the gate writes
 * `security` and `x-required-scope` on each), and the rendered reference. Registered before any route.
 */
export async function registerOpenApi(app: FastifyInstance, options: { publicUrl: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SkaleData control-plane API',
        version: '1.0.0',
        description: [
          'Clouds, clusters, node pools, apps and the jobs that change them, for people signed in with a Clerk user session and for programs holding a scoped API key.',
          '',
          'Each operation states who may call it: in `security`, in `x-required-scope` (the scope an API key needs; a key with `full` passes every scope check), and at the end of its summary (`scope clusters:read`, `API keys need full`, `user session only`, `public`).',
          'Every error is `application/problem+json` (RFC 9457) with a stable `code`; each operation lists the codes it can answer with.',
          'Lists take `?limit=` (default 50, at most 200) and `?cursor=`, and answer `{ data, next_cursor }`. Changes that take time answer 202 with a `job` to follow at `GET /jobs/{id}`.',
        ].join('\n'),
        // No open-source licence: the API and this document are SkaleData's (an SPDX reference of our own).
        license: { name: 'Proprietary', identifier: 'LicenseRef-SkaleData-Proprietary' },
      },
      servers: [{ url: options.publicUrl, description: 'This server (its PUBLIC_URL).' }],
      tags: TAGS.map((tag) => ({ ...tag })),
      components: { securitySchemes: { ...securitySchemes } },
    },
    transform: transformRoute,
    transformObject: transformDocument,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  // Generated (and checked) once the routes are in: an undeclared operationId, an unknown tag or two schemas
  // with one title stop the server here rather than surface as a broken document later.
  app.addHook('onReady', async () => {
    app.swagger();
  });
}
