import type { FastifyInstance } from 'fastify';
import type { TSchema } from 'typebox';
import { validationFailed } from './errors.js';
import { compileValidator, toFieldErrors } from './validation.js';

/**
 * In `scope` (a plugin of its own), JSON bodies are kept as the bytes received, not parsed: a signature
 * over the body (GitHub secret scanning, Svix) is checked on exactly those bytes, and the body is parsed
 * only once it is known to come from the signer. Other media types answer 415 as everywhere else.
 */
export function keepRawJsonBodies(scope: FastifyInstance, bodyLimit: number): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
}

/**
 * The request body as `keepRawJsonBodies` left it; 400 naming `body` when none was sent. Checked first,
 * before the signature and even on an endpoint that is switched off: nothing signed can be empty, and
 * saying so reveals no more than the OpenAPI document does.
 */
export function requiredRawBody(body: unknown): Buffer {
  if (!Buffer.isBuffer(body) || body.length === 0) throw validationFailed([{ path: 'body', message: 'is required' }]);
  return body;
}

/** A request header's single value (a repeated header counts as absent: it cannot be one signature). */
export function singleHeader(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The signed bytes as JSON, or 400 `validation_failed` naming the body (called only after the signature holds). */
export function parseRawJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw validationFailed([{ path: 'body', message: 'must be JSON' }]);
  }
}

/** `value` checked against `schema` as a request body, or 400 `validation_failed` naming each bad field. */
export function checkBody<T>(schema: TSchema, value: unknown): T {
  const validate = compiled.get(schema) ?? compileValidator({ schema, httpPart: 'body' });
  compiled.set(schema, validate);
  if (!validate(value)) throw validationFailed(toFieldErrors(validate.errors ?? [], 'body'));
  return value as T;
}

const compiled = new WeakMap<TSchema, ReturnType<typeof compileValidator>>();
