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
