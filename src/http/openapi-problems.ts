import { Type } from 'typebox';
import { ERROR_CODES, type ErrorCode } from './errors.js';

/**
 * The error answers of each operation in the OpenAPI document, derived from what the route can actually
 * answer: its auth declaration (steps 1–4 of CONTRACT §2), its shape (path ids, query, body) and the
 * codes its service declares in `config.problems`. They are written into the document only, never into
 * a route's `schema.response`: Fastify would then serialize real error bodies through that schema, and
 * the extras a problem carries (`errors`, `required_scope`, `max_clusters`, ...) could be dropped.
 */

export const FieldErrorSchema = Type.Object(
  { path: Type.String({ description: 'Where the bad value is: a body field (`name`), `query.<name>`, `path.<name>` or `body`.' }), message: Type.String() },
  { title: 'FieldError' },
);

/** The one problem+json shape of every error (RFC 9457, CONTRACT §3); http/errors.ts renders it. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URL naming the error code: `https://docs.skaledata.com/errors/<code>`.' }),
    title: Type.String({ description: 'The HTTP status text.' }),
    status: Type.Integer({ description: 'The HTTP status, repeated.' }),
    code: Type.String({ description: `The error code, for programs: ${Object.keys(ERROR_CODES).join(', ')}.` }),
    detail: Type.String({ description: 'What went wrong and what to do about it, for people.' }),
    request_id: Type.String({ description: 'Quote it when you contact support; the server logs carry it too.' }),
    errors: Type.Optional(Type.Array(FieldErrorSchema, { description: 'validation_failed (and payload_too_large on uploads): one entry per refused field.' })),
    required_scope: Type.Optional(Type.String({ description: 'insufficient_scope: the scope the API key lacks.' })),
  },
  {
    title: 'Problem',
    additionalProperties: true,
    description: 'An error (RFC 9457). Some codes add fields of their own, e.g. `max_clusters` on plan_limit_reached or `cluster_status` on conflict.',
  },
);

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** Who may call a route, as the auth gate writes it on the operation (`x-auth`). */
type AuthKind = 'public' | 'anyPrincipal' | 'scope' | 'full' | 'userOnly';

export interface OperationShape {
  method: string;
  auth: AuthKind;
  hasPathParameters: boolean;
  hasQueryOrPath: boolean;
  /** The codes the route's service can answer with, beyond those its shape implies (`config.problems`). */
  declared: readonly ErrorCode[];
}

/** Methods whose requests may carry a body: every one of them has a body deadline, a size limit and a parser. */
const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);

/** Every error code an operation can answer with, by status. */
export function problemCodes(shape: OperationShape): Map<number, ErrorCode[]> {
  const codes = new Set<ErrorCode>(shape.declared);
  const authenticated = shape.auth !== 'public';
  const takesBody = BODY_METHODS.has(shape.method);
  if (authenticated) {
    // Step 1–2 (and one Authorization header only); the key lookup reads the database (503 when it cannot).
    codes.add('unauthenticated').add('invalid_token').add('invalid_request').add('service_unavailable').add('storage_error');
    if (shape.auth === 'userOnly') codes.add('user_session_required');
    if (shape.auth === 'scope' || shape.auth === 'full') codes.add('insufficient_scope');
    // A key used from outside its allowed_ips (CONTRACT §7), on every route a key may call.
    if (shape.auth !== 'userOnly') codes.add('ip_not_allowed');
    // A key over its rate limit, or an address that sent too many invalid credentials (CONTRACT §7).
    codes.add('rate_limited');
  }
  if (shape.hasQueryOrPath || takesBody) codes.add('validation_failed');
  if (shape.hasPathParameters) codes.add('not_found');
  if (takesBody) codes.add('request_timeout').add('payload_too_large').add('unsupported_media_type');
  // A write that meets a full disk is refused whole (db/faults.ts).
  if (takesBody && codes.has('storage_error')) codes.add('storage_full');
  codes.add('internal');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    if (!codes.has(code)) continue;
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
}

const WHAT: Partial<Record<ErrorCode, string>> = {
  invalid_request: 'several Authorization headers',
  unauthenticated: 'no credentials',
  invalid_token: 'credentials invalid, expired or revoked',
  user_session_required: 'API keys are refused here, whatever their scopes: call it with a user session',
  insufficient_scope: 'the API key has neither `full` nor the required scope',
  ip_not_allowed: 'the API key is used from an address outside its allowed_ips',
  resource_not_allowed: 'the API key is limited to some clusters and apps (its resources), and this reaches beyond them (the whole account, or another cluster)',
  validation_failed: 'a path id, query or body value is refused; `errors` names each',
  not_found: 'no such resource in your account',
  conflict: "the resource's state does not allow it now",
  plan_limit_reached: "the plan's limit is reached",
  request_timeout: 'the body did not arrive in time',
  payload_too_large: 'the body is too large',
  unsupported_media_type: 'the body is not of a type this operation reads',
  rate_limited: 'the API key is over its rate limit, or this address sent too many invalid credentials; retry after `Retry-After` seconds',
  internal: 'a fault on our side; quote request_id',
  service_unavailable: 'the database is unreachable or the instance is shutting down; retry after `Retry-After` seconds',
  storage_full: "the server's storage is full",
  storage_error: "the server's storage failed",
};

const WWW_AUTHENTICATE = {
  description: 'The Bearer challenge (RFC 6750): `Bearer realm="skaledata"`, with `error="invalid_token"` for a refused token (`error="invalid_request"` for several Authorization headers).',
  schema: { type: 'string' },
};
const WWW_AUTHENTICATE_SCOPE = {
  description: 'With insufficient_scope: `Bearer realm="skaledata", error="insufficient_scope", scope="<scope>"`.',
  schema: { type: 'string' },
};
const RETRY_AFTER = { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } };
// draft-ietf-httpapi-ratelimit-headers-10; also sent on every other response to a rate-limited key.
const RATELIMIT_POLICY = { description: 'The key\'s quota policy: `"api-key";q=<requests>;w=<window seconds>`.', schema: { type: 'string' } };
const RATELIMIT = { description: 'The key\'s current window: `"api-key";r=<remaining>;t=<seconds until it resets>`.', schema: { type: 'string' } };

export interface ProblemResponse {
  description: string;
  headers?: Record<string, { description: string; schema: { type: string } }>;
  content: Record<string, { schema: typeof ProblemSchema }>;
}

/** The OpenAPI response of one status: its codes in the description, the problem schema, and its headers. */
export function problemResponse(codes: readonly ErrorCode[]): ProblemResponse {
  const description = codes.map((code) => `\`${code}\`: ${WHAT[code] ?? ERROR_CODES[code].title}`).join('; ');
  const headers: NonNullable<ProblemResponse['headers']> = {};
  if (codes.some((code) => code === 'unauthenticated' || code === 'invalid_token' || code === 'invalid_request')) headers['WWW-Authenticate'] = WWW_AUTHENTICATE;
  if (codes.includes('insufficient_scope')) headers['WWW-Authenticate'] = WWW_AUTHENTICATE_SCOPE;
  if (codes.some((code) => code === 'rate_limited' || ERROR_CODES[code].status === 503)) headers['Retry-After'] = RETRY_AFTER;
  if (codes.includes('rate_limited')) {
    headers['RateLimit-Policy'] = RATELIMIT_POLICY;
    headers.RateLimit = RATELIMIT;
  }
  return {
    description: `${ERROR_CODES[codes[0] as ErrorCode].title}: ${description}.`,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    content: { [PROBLEM_MEDIA_TYPE]: { schema: ProblemSchema } },
  };
}
