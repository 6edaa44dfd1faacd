import type { Refusal } from '../auth/decision.js';

/** The one error vocabulary (CONTRACT §3): a code, its status and title, and one problem+json shape. */
export const ERROR_CODES = {
  invalid_request: { status: 400, title: 'Bad Request' },
  unauthenticated: { status: 401, title: 'Unauthorized' },
  invalid_token: { status: 401, title: 'Unauthorized' },
  user_session_required: { status: 403, title: 'Forbidden' },
  insufficient_scope: { status: 403, title: 'Forbidden' },
  ip_not_allowed: { status: 403, title: 'Forbidden' },
  resource_not_allowed: { status: 403, title: 'Forbidden' },
  validation_failed: { status: 400, title: 'Bad Request' },
  not_found: { status: 404, title: 'Not Found' },
  conflict: { status: 409, title: 'Conflict' },
  plan_limit_reached: { status: 409, title: 'Conflict' },
  request_timeout: { status: 408, title: 'Request Timeout' },
  payload_too_large: { status: 413, title: 'Payload Too Large' },
  unsupported_media_type: { status: 415, title: 'Unsupported Media Type' },
  rate_limited: { status: 429, title: 'Too Many Requests' },
  internal: { status: 500, title: 'Internal Server Error' },
  service_unavailable: { status: 503, title: 'Service Unavailable' },
  storage_full: { status: 503, title: 'Service Unavailable' },
  storage_error: { status: 503, title: 'Service Unavailable' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemExtras {
  errors?: FieldError[];
  required_scope?: string;
  [key: string]: unknown;
}

const REALM = 'Bearer realm="skaledata"';

/**
 * The `WWW-Authenticate` challenge of a credential or scope refusal (RFC 6750 §3, CONTRACT §2), built
 * here only: whoever refuses says why (a Refusal, or the code of a token it issued), and the header
 * follows from it.
 */
export function challenge(refusal: { code: 'invalid_request' | 'unauthenticated' | 'invalid_token' } | { code: 'insufficient_scope'; scope: string }): Record<string, string> {
  switch (refusal.code) {
    case 'invalid_request':
      return { 'www-authenticate': `${REALM}, error="invalid_request"` };
    case 'unauthenticated':
      return { 'www-authenticate': REALM };
    case 'invalid_token':
      return { 'www-authenticate': `${REALM}, error="invalid_token"` };
    case 'insufficient_scope':
      return { 'www-authenticate': `${REALM}, error="insufficient_scope", scope="${refusal.scope}"` };
  }
}

/** The challenge of the registry token realm, whose clients (docker, podman, skopeo) log in with Basic auth. */
export function basicChallenge(): Record<string, string> {
  return { 'www-authenticate': 'Basic realm="SkaleData registry", charset="UTF-8"' };
}

/** The headers a refusal of steps 1–4 is answered with (user_session_required has no challenge: no credential would do). */
function refusalHeaders(refusal: Refusal): Record<string, string> {
  // No credential would do better from here: no challenge.
  // (rate_limited: waiting would; its Retry-After varies and is set by whoever counts.)
  if (refusal.code === 'user_session_required' || refusal.code === 'ip_not_allowed' || refusal.code === 'resource_not_allowed' || refusal.code === 'rate_limited') return {};
  if (refusal.code === 'insufficient_scope') return challenge(refusal);
  return challenge({ code: refusal.code });
}

export class AppError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extras: ProblemExtras = {},
    headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'AppError';
    this.status = ERROR_CODES[code].status;
    this.headers = headers;
  }
}

const refusalErrors = new Map<Refusal, AppError>();

/**
 * The problem that answers a refusal of steps 1–4 (auth/decision.ts). Refusals are constants, so each
 * has one AppError whose bytes are rendered once (renderProblem) and never a stack trace per request.
 */
export function refusalError(refusal: Refusal): AppError {
  let error = refusalErrors.get(refusal);
  if (error === undefined) {
    error = new AppError(refusal.code, refusal.detail, refusal.scope === undefined ? {} : { required_scope: refusal.scope }, refusalHeaders(refusal));
    refusalErrors.set(refusal, error);
  }
  return error;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  request_id: string;
  [key: string]: unknown;
}

export function toProblem(error: AppError, requestId: string): Problem {
  return {
    type: `https://docs.skaledata.com/errors/${error.code}`,
    title: ERROR_CODES[error.code].title,
    status: error.status,
    code: error.code,
    detail: error.detail,
    ...error.extras,
    request_id: requestId,
  };
}

/**
 * The problem+json text of `error` for one request. The part before `request_id` is rendered once per
 * error object (refusals reuse theirs), so a refused request costs one string concatenation rather than
 * an object spread and a JSON.stringify.
 */
const renderedHeads = new WeakMap<AppError, string>();

export function renderProblem(error: AppError, requestId: string): string {
  let head = renderedHeads.get(error);
  if (head === undefined) {
    const { request_id: _last, ...rest } = toProblem(error, '');
    head = `${JSON.stringify(rest).slice(0, -1)},"request_id":`;
    renderedHeads.set(error, head);
  }
  return `${head}${JSON.stringify(requestId)}}`;
}

export const notFound = (what: string, id: string): AppError => new AppError('not_found', `No ${what} with id ${id}.`);

export const conflict = (detail: string, extras: ProblemExtras = {}): AppError => new AppError('conflict', detail, extras);

export const validationFailed = (errors: FieldError[]): AppError =>
  new AppError('validation_failed', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
