import type { FastifyBaseLogger } from 'fastify';
import { principalId, type Principal } from '../auth/principal.js';

const PRINCIPAL = Symbol('skaledata.logPrincipal');
type Tagged = { [PRINCIPAL]?: Principal };

/**
 * Names the caller on every later line of this request's log (e.g. "request completed"). A property on
 * the request's own logger, read by `principalLogFields` only when a line is written: a child logger per
 * request cost more than authenticating the key it names.
 */
export function tagRequestLog(log: FastifyBaseLogger, principal: Principal): void {
  (log as Tagged)[PRINCIPAL] = principal;
}

/** pino `mixin`: the fields of the caller tagged on the logger writing the line (or its parents). */
export function principalLogFields(_merge: object, _level: number, logger: unknown): Record<string, string> {
  const principal = (logger as Tagged)[PRINCIPAL];
  // A fresh object every time: pino merges the line's own fields into what the mixin returns.
  return principal === undefined ? {} : { account_id: principal.accountId, principal: principalId(principal) };
}

/** Log paths whose values never reach a line: credentials wherever a header or a body carries them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'key',
  'token',
  'credentials',
  '*.key',
  '*.token',
  '*.credentials',
];

/** Query-string values that look like secrets never reach a log line, even when a client misplaces a key. */
const SECRET_SHAPES = /skd_[0-9A-Za-z]{8,}|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

export function redactUrl(url: string): string {
  // Anything shaped like one of our keys or a JWT, wherever it sits in the URL.
  const shaped = url.replace(SECRET_SHAPES, '[redacted]');
  const question = shaped.indexOf('?');
  if (question === -1) return shaped;
  const params = new URLSearchParams(shaped.slice(question + 1));
  for (const name of [...params.keys()]) {
    if (/key|token|secret|password|auth|credential|sig/i.test(name)) params.set(name, '[redacted]');
  }
  return `${shaped.slice(0, question)}?${params.toString()}`;
}

/** How a request appears on its log lines (pino's `req` serializer): no headers, the URL redacted. */
export const requestSerializer = (request: { method: string; url: string; id: string; ip?: string }) => ({
  method: request.method,
  url: redactUrl(request.url),
  request_id: request.id,
  remote_address: request.ip,
});

/** The longest error message a log line carries; the rest is cut (a message may quote input). */
const MAX_ERROR_MESSAGE = 500;

/**
 * How every error appears on a log line (pino's `err` serializer, and the `error` key's): its kind, code
 * and message. Never the stack (CONTRACT §3: no stack trace in a log line, and stacks carry install
 * paths), never the error's other properties (a driver error may hold the query or its parameters).
 */
export function errorSerializer(error: unknown): { type: string; code?: string; message: string } {
  if (typeof error !== 'object' || error === null) return { type: typeof error, message: String(error).slice(0, MAX_ERROR_MESSAGE) };
  const { name, code, message } = error as { name?: unknown; code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  // A message may itself embed a stack (errors re-wrapped as text): keep its first line only.
  const firstLine = text.split('\n', 1)[0] ?? '';
  return {
    type: typeof name === 'string' ? name : (error.constructor?.name ?? 'Error'),
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    message: firstLine.slice(0, MAX_ERROR_MESSAGE),
  };
}
