/**
 * What the SDK throws. Every refusal of the API is a SkaledataProblem carrying the RFC 9457 body the
 * server sent (CONTRACT §3); the other classes are the client's own outcomes (no answer, a job that
 * failed, a wait that ran out of time), each with a `code` a program can switch on.
 */

/** One entry of a validation_failed problem's `errors`. */
export interface ProblemFieldError {
  path: string;
  message: string;
}

/** The problem+json body of an error answer (CONTRACT §3). */
export interface ProblemBody {
  type?: string;
  title?: string;
  status: number;
  code: string;
  detail?: string;
  required_scope?: string;
  request_id?: string;
  errors?: ProblemFieldError[];
}

/** A problem as the SDK hands it on (`toJSON`): absent fields are null. */
export interface ProblemJson {
  status: number;
  code: string;
  detail: string;
  required_scope: string | null;
  request_id: string | null;
  errors?: ProblemFieldError[];
}

/** A refusal of the API: any non-2xx answer. */
export class SkaledataProblem extends Error {
  override readonly name = 'SkaledataProblem';
  readonly status: number;
  /** The problem's code (`insufficient_scope`, `not_found`, …), or `unexpected_response` when the body was not problem+json. */
  readonly code: string;
  readonly detail: string;
  /** The scope a key lacks (insufficient_scope only). */
  readonly required_scope: string | null;
  readonly request_id: string | null;
  readonly errors: ProblemFieldError[];
  /** Seconds the server asked to wait before a retry (429, 503), when it said. */
  readonly retry_after: number | null;
  readonly method: string;
  readonly url: string;

  constructor(body: ProblemBody, request: { method: string; url: string; retryAfter?: string | null }) {
    super(body.detail ? `${body.detail} (${body.code})` : `${request.method} ${request.url}: ${body.status} ${body.code}`);
    this.status = body.status;
    this.code = body.code;
    this.detail = body.detail ?? body.title ?? '';
    this.required_scope = body.required_scope ?? null;
    this.request_id = body.request_id ?? null;
    this.errors = body.errors ?? [];
    const retry = request.retryAfter ? Number(request.retryAfter) : NaN;
    this.retry_after = Number.isFinite(retry) ? retry : null;
    this.method = request.method;
    this.url = request.url;
  }

  /** The problem's fields as plain JSON (for logs and `--json` output). */
  toJSON(): ProblemJson {
    return {
      status: this.status,
      code: this.code,
      detail: this.detail,
      required_scope: this.required_scope,
      request_id: this.request_id,
      ...(this.errors.length > 0 ? { errors: this.errors } : {}),
    };
  }
}

/** The API did not answer: refused connection, DNS failure, reset, TLS error. */
export class SkaledataConnectionError extends Error {
  override readonly name = 'SkaledataConnectionError';
  readonly code = 'unreachable';
  readonly url: string;

  constructor(url: string, cause: unknown) {
    const reason = describeNetworkError(cause);
    super(`cannot reach the SkaleData API at ${url}${reason ? ` (${reason})` : ''}`, { cause });
    this.url = url;
  }
}

/** An operation that was accepted but ended badly: a job failed or was canceled, a resource reached `failed`. */
export class SkaledataOperationError extends Error {
  override readonly name = 'SkaledataOperationError';
  /** `job_failed`, `job_canceled`, `deploy_failed`, `deploy_canceled`, `deploy_superseded` or `resource_failed`. */
  readonly code: string;
  /** The final status of what was followed. */
  readonly status: string;
  /** The job's error code and message, when a job said why. */
  readonly reason: { code: string; message: string } | null;
  readonly job_id: string | null;

  constructor(message: string, fields: { code: string; status: string; reason?: { code: string; message: string } | null; jobId?: string | null }) {
    super(message);
    this.code = fields.code;
    this.status = fields.status;
    this.reason = fields.reason ?? null;
    this.job_id = fields.jobId ?? null;
  }
}

/** A wait (waitForJob, waitForCluster, …) that ran out of time; the operation may still finish. */
export class SkaledataTimeoutError extends Error {
  override readonly name = 'SkaledataTimeoutError';
  readonly code = 'timeout';
}

/** A list whose server handed back a `next_cursor` it had already given: following it would never end. */
export class SkaledataPaginationError extends Error {
  override readonly name = 'SkaledataPaginationError';
  readonly code = 'cursor_repeated';
  readonly path: string;
  readonly cursor: string;

  constructor(path: string, cursor: string, page: number) {
    super(`GET ${path}: page ${page} gave next_cursor "${cursor}" again; stopped instead of fetching the same pages forever`);
    this.path = path;
    this.cursor = cursor;
  }
}

/** The system's error code (ECONNREFUSED, ENOTFOUND…) from fetch's chain of causes, else the innermost message. */
function describeNetworkError(error: unknown): string {
  const seen = new Set<unknown>();
  let current: unknown = error;
  let message = '';
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'unreachable') return code;
    if (current instanceof Error && current.message) message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}
