import { presetsWithScope, SkaledataConnectionError, SkaledataOperationError, SkaledataPaginationError, SkaledataProblem, SkaledataTimeoutError } from '../sdk/index.js';

/**
 * Exit codes a pipeline can trust (README, "The skaledata CLI"). Each failure prints one line on
 * stderr naming its code (and at most one more line saying what to do), never a stack trace.
 */
export const EXIT = {
  ok: 0,
  /** The API refused the request (403, 404, 409, 400, 429, 5xx…): the problem's code is printed. */
  refused: 1,
  /** Bad command line: unknown command or flag, missing argument, bad value. */
  usage: 2,
  /** The API did not answer (connection refused, DNS, reset). */
  unreachable: 3,
  /** No credentials, or the API refused them (401: expired, revoked, malformed). */
  unauthenticated: 4,
  /** The work was accepted but failed or was canceled (job, deploy, cluster, DAG sync). */
  failed: 5,
  /** --wait gave up (--timeout); the work may still finish. */
  timeout: 6,
  /** --wait was asked, the work was accepted, but this key can read nothing that follows it. */
  notFollowed: 7,
} as const;

/** A failure the CLI explains itself: exit code, code word, one line, an optional hint. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, 'usage', message, 'run `skaledata help` for the commands and their flags');

/** The hint after the seed's refusal line: the scope to add, and a preset that holds it. */
export function scopeHint(scope: string): string {
  if (scope === 'full') return 'this needs a key with full access: create one with `skaledata keys create --name … ` (no --scope or --preset)';
  const presets = presetsWithScope(scope);
  const create = presets.length > 0 ? `create one with --preset ${presets.join(' or --preset ')}` : `create one with --scope ${scope}`;
  return `add the scope ${scope} to this key, or ${create}`;
}

/** What a failure looks like on the way out: the exit code, the lines for stderr, the JSON for --json. */
export interface Rendered {
  exitCode: number;
  lines: string[];
  json: Record<string, unknown>;
}

export function renderError(error: unknown): Rendered {
  if (error instanceof CliError) {
    return { exitCode: error.exitCode, lines: withHint(`error: ${error.message} (${error.code})`, error.hint), json: { code: error.code, detail: error.message, ...error.details } };
  }
  if (error instanceof SkaledataProblem) return renderProblem(error);
  if (error instanceof SkaledataConnectionError) {
    return {
      exitCode: EXIT.unreachable,
      lines: withHint(`error: ${error.message} (unreachable)`, 'check --api-url / SKALEDATA_API_URL and that the API is running'),
      json: { code: 'unreachable', detail: error.message },
    };
  }
  if (error instanceof SkaledataOperationError) {
    return { exitCode: EXIT.failed, lines: [`error: ${error.message} (${error.code})`], json: { code: error.code, detail: error.message, status: error.status, job_id: error.job_id, reason: error.reason } };
  }
  if (error instanceof SkaledataTimeoutError) {
    return { exitCode: EXIT.timeout, lines: withHint(`error: ${error.message} (timeout)`, 'the work goes on: wait again, or raise --timeout'), json: { code: 'timeout', detail: error.message } };
  }
  if (error instanceof SkaledataPaginationError) {
    return { exitCode: EXIT.refused, lines: [`error: ${error.message} (${error.code})`], json: { code: error.code, detail: error.message } };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { exitCode: EXIT.refused, lines: [`error: ${message} (internal)`], json: { code: 'internal', detail: message } };
}

function renderProblem(problem: SkaledataProblem): Rendered {
  const json = { ...problem.toJSON() };
  const line = `error: ${problem.detail || `HTTP ${problem.status}`} (${problem.code})`;
  if (problem.code === 'insufficient_scope' && problem.required_scope) {
    // The seed's sentence as the API sent it, then what to do about it.
    return { exitCode: EXIT.refused, lines: [line, scopeHint(problem.required_scope)], json };
  }
  if (problem.status === 401) {
    return { exitCode: EXIT.unauthenticated, lines: withHint(line, 'the key or token was refused (expired, revoked or mistyped): run `skaledata login` with a valid one'), json };
  }
  if (problem.code === 'user_session_required') {
    return { exitCode: EXIT.refused, lines: withHint(line, 'API keys cannot manage keys or billing: `skaledata login --token <session token>` as a user'), json };
  }
  const lines = [line, ...problem.errors.map((item) => `  ${item.path}: ${item.message}`)];
  if (problem.request_id && problem.status >= 500) lines.push(`  request id: ${problem.request_id}`);
  return { exitCode: EXIT.refused, lines, json };
}

const withHint = (line: string, hint: string | undefined): string[] => (hint ? [line, hint] : [line]);
