import { Type, type TSchema } from 'typebox';

/** Shared schema pieces: timestamps, nullable fields, path ids. */
export const Timestamp = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * Ids are opaque strings to clients; ours are letters, digits and `_`. Anything else (NUL bytes,
 * slashes, quotes) is refused before it reaches a query, on both databases alike.
 */
export const IdParam = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' });

/** Free text a person chose (names): printable, no control characters, not blank. */
export const DisplayName = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: '^(?=.*\\S)[^\\u0000-\\u001f\\u007f]+$' });
export const IdParams = Type.Object({ id: IdParam });

/** A body with nothing to send: if one is sent it must be an empty object (unknown fields are refused, not ignored). */
export const NoFields = Type.Object({}, { title: 'EmptyRequest', additionalProperties: false });

/** A resource name: a lowercase DNS label, as clouds and Kubernetes expect. */
export const DnsLabel = Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z]([a-z0-9-]*[a-z0-9])?$' });

/** Kubernetes-style labels: lowercase keys, string values; anything else is refused, never coerced. */
export const Labels = Type.Unsafe<Record<string, string>>({
  type: 'object',
  propertyNames: { pattern: '^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$' },
  additionalProperties: { type: 'string', maxLength: 63, pattern: '^[^\\u0000-\\u001f\\u007f]*$' },
  maxProperties: 20,
});
