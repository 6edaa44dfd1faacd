import { Type, type TSchema } from 'typebox';

/** Shared schema pieces: timestamps, nullable fields, path ids. */
export const Timestamp = Type.String({ format: 'date-time' });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** Ids in paths are opaque strings; bounded so nothing unbounded reaches a query. */
export const IdParam = Type.String({ minLength: 1, maxLength: 64 });
export const IdParams = Type.Object({ id: IdParam });

/** A resource name: a lowercase DNS label, as clouds and Kubernetes expect. */
export const DnsLabel = Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z]([a-z0-9-]*[a-z0-9])?$' });

export const Labels = Type.Record(Type.String({ pattern: '^[a-z0-9]([a-z0-9._/-]{0,61}[a-z0-9])?$' }), Type.String({ maxLength: 63 }), {
  maxProperties: 20,
});
