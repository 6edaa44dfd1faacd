import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type DatabaseFault, type StorageFaults } from '../db/faults.js';
import { AppError, type ErrorCode, ERROR_CODES, renderProblem } from './errors.js';
import { toFieldErrors } from './validation.js';

/**
 * The code for a 4xx a library answered with (Fastify's router, a body parser, @fastify/static). Written out
 * rather than inverted from ERROR_CODES, where several codes share a status: a file server's 403 for a path
 * that leaves its folder is not a key's resource fence (resource_not_allowed), and a library's 409 is not a
 * plan limit. A refused path answers like an absent file. Any other status: validation_failed.
 */
const LIBRARY_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'validation_failed',
  401: 'unauthenticated',
  403: 'not_found',
  404: 'not_found',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

/**
 * The answer to each database fault (db/faults.ts): a 503 the client may retry after Retry-After seconds.
 * A full or failing disk failed the transaction: nothing was written. A timeout or a lost connection may
 * have struck after the database committed: a write's outcome is then unknown, and the answer says so.
 */
export function faultError(fault: DatabaseFault): AppError {
  switch (fault) {
    case 'storage_full':
      return new AppError('storage_full', "The server's storage is full; nothing was written. Retry later.", {}, { 'retry-after': '30' });
    case 'storage_error':
      return new AppError('storage_error', "The server's storage failed to read or write; nothing was written. Retry later.", {}, { 'retry-after': '30' });
    case 'timeout':
      return new AppError('service_unavailable', 'The database did not answer in time; retry shortly (a write may or may not have been applied: check before repeating it).', {}, { 'retry-after': '5' });
    case 'unavailable':
      return new AppError('service_unavailable', 'The database is unavailable; retry shortly (a write may or may not have been applied: check before repeating it).', {}, { 'retry-after': '5' });
  }
}

/** Maps anything thrown to the one problem+json shape; unknown errors become a generic 500 with a log line. */
function toAppError(error: FastifyError, request: FastifyRequest, faults: StorageFaults): AppError {
  if (error instanceof AppError) return error;
  if (error.validation) {
    const part = error.validationContext ?? 'body';
    const errors = toFieldErrors(error.validation, part, request.routeOptions.config.validationHints);
    return new AppError('validation_failed', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is larger than this endpoint accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'Send request bodies as application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('validation_failed', 'The body is empty; send a JSON object.', {
        errors: [{ path: 'body', message: 'must be a JSON object' }],
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('validation_failed', 'The body is not valid JSON.', {
        errors: [{ path: 'body', message: 'is not valid JSON' }],
      });
  }
  if (/forbidden (prototype|constructor) property/i.test(error.message)) {
    return new AppError('validation_failed', 'The body contains a forbidden key (__proto__ or constructor.prototype).', {
      errors: [{ path: 'body', message: 'must not contain __proto__ or constructor.prototype keys' }],
    });
  }
  // JSON.parse failures surface as SyntaxError with statusCode 400 from Fastify's parser.
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
    return new AppError('validation_failed', 'The body is not valid JSON.', {
      errors: [{ path: 'body', message: 'is not valid JSON' }],
    });
  }
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code = LIBRARY_STATUS[status] ?? 'validation_failed';
    return new AppError(code, ERROR_CODES[code].title);
  }
  // PostgreSQL refuses text it cannot store (NUL bytes, bad encodings): the input was bad, not the server.
  if (error.code === '22021' || error.code === '22P05') {
    return new AppError('validation_failed', 'The request contains characters that cannot be stored.', {
      errors: [{ path: 'request', message: 'contains characters that cannot be stored (e.g. NUL)' }],
    });
  }
  const fault = faults.note(error);
  if (fault !== null) return faultError(fault);
  return new AppError('internal', 'Something went wrong on our side. Quote the request_id if you contact support.');
}


declare module 'fastify' {
  interface FastifyReply {
    /** The problem this reply answered with (null: none), for what runs after it is sent (key activity). */
    problem: AppError | null;
  }
}

export function sendProblem(reply: FastifyReply, error: AppError): FastifyReply {
  reply.problem = error;
  // The common headers come from the onSend hook (response-headers.ts), like every other response's;
  // router-level errors, answered where no hook runs, add them themselves (server.ts).
  for (const name in error.headers) reply.header(name, error.headers[name]);
  // Already JSON text with its content type set: Fastify sends it without serializing again.
  return reply.code(error.status).type('application/problem+json').send(renderProblem(error, String(reply.request.id)));
}

/** A 4xx answer: one info line (no stack), then the problem. The auth gate answers its refusals here too. */
export function refuseRequest(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  request.log.info({ code: error.code }, 'request refused');
  return sendProblem(reply, error);
}

/** `faults`: where storage faults met by requests are remembered, for readiness to report. */
export function registerErrorHandling(app: FastifyInstance, faults: StorageFaults): void {
  app.decorateReply('problem', null);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error, request, faults);
    if (appError.status < 500) return refuseRequest(request, reply, appError);
    // The logger's error serializer keeps the stack out of the line (CONTRACT §3).
    request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, appError);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new AppError('not_found', `No route ${request.method} ${request.url.split("?")[0]?.slice(0, 200) ?? ""}.`)),
  );
}
