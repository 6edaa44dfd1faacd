import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import type { FieldError } from './errors.js';

// ajv-formats is CommonJS: at run time the default import is the plugin function itself.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const formatsModule = addFormatsModule as unknown as FormatsPlugin & { default?: FormatsPlugin };
const addFormats: FormatsPlugin = formatsModule.default ?? formatsModule;

function makeAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({
    // Unknown fields are refused, never silently dropped (no mass assignment, no surprises).
    removeAdditional: false,
    useDefaults: true,
    coerceTypes,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * Bodies are JSON and must carry the right types as sent; query strings and path parameters are text
 * and are coerced ("?limit=5" is a number).
 */
const bodyAjv = makeAjv(false);
const textAjv = makeAjv(true);

export function compileValidator({ schema, httpPart }: { schema: object; httpPart?: string }): ValidateFunction {
  return (httpPart === 'body' ? bodyAjv : textAjv).compile(schema);
}

function describe(error: ErrorObject | FastifySchemaValidationError): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not a known field';
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).join(', ')}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `must be at most ${String(params.limit)} characters`;
    case 'minItems':
      return params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} items`;
    case 'maxItems':
      return `must have at most ${String(params.limit)} items`;
    case 'minimum':
      return `must be at least ${String(params.limit)}`;
    case 'maximum':
      return `must be at most ${String(params.limit)}`;
    case 'type':
      return `must be ${String(params.type)}`;
    case 'minProperties':
      return params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} fields`;
    case 'maxProperties':
      return `must have at most ${String(params.limit)} entries`;
    case 'propertyNames':
      return 'has a key that is not allowed';
    case 'format':
      return `must be a valid ${String(params.format)}`;
    case 'pattern':
      return 'has an invalid format';
    default:
      return error.message ?? 'is invalid';
  }
}

/** How a path names where the value came from: body fields bare, the rest prefixed. */
const PART_PREFIX: Record<string, string> = { body: '', querystring: 'query.', params: 'path.', headers: 'header.' };

/** Turns validator errors into `[{path, message}]`, the path naming the field as the client sent it. */
export function toFieldErrors(
  errors: readonly (ErrorObject | FastifySchemaValidationError)[],
  part: string,
  hints: Record<string, string> = {},
): FieldError[] {
  return errors.map((error) => {
    const params = error.params as Record<string, unknown>;
    let pointer = error.instancePath;
    if (error.keyword === 'required') pointer += `/${String(params.missingProperty)}`;
    if (error.keyword === 'additionalProperties') pointer += `/${String(params.additionalProperty)}`;
    const segments = pointer.split('/').filter((s) => s !== '');
    const root = PART_PREFIX[part] ?? `${part}.`;
    const path = segments.length === 0 ? (root === '' ? 'body' : root.slice(0, -1)) : `${root}${segments.join('.')}`;
    const field = segments[0];
    const hint = field !== undefined && Object.hasOwn(hints, field) ? hints[field] : undefined;
    return { path, message: hint ? `${describe(error)} (${hint})` : describe(error) };
  });
}
