/**
 * Named schemas for the OpenAPI document (and string enums typed as such): every schema that carries a `title` (Cluster, Job, Problem,
 * ClusterList, ...) is moved into `components.schemas` under that title and replaced by a `$ref`
 * wherever it appears, so generators produce one type per name. Titles are plain annotations on the
 * route schemas (TypeBox `{ title }`): the validator and the serializer ignore them.
 */

export class SchemaNameConflictError extends Error {
  constructor(name: string, first: string, second: string) {
    super(`Two different schemas are titled "${name}" (at ${first} and at ${second}); give one of them another title.`);
    this.name = 'SchemaNameConflictError';
  }
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Keys whose values are data (examples, defaults, allowed values), not schemas: left as they are. */
const DATA_KEYS = new Set(['example', 'examples', 'default', 'enum', 'const']);

/** A component name OpenAPI accepts (`^[a-zA-Z0-9._-]+$`). */
const COMPONENT_NAME = /^[A-Za-z0-9._-]+$/;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

const looksLikeSchema = (node: JsonObject): boolean =>
  typeof node.title === 'string' && ('type' in node || 'properties' in node || 'anyOf' in node || 'oneOf' in node || 'allOf' in node);

const escape = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Returns `document` with every titled schema under `paths` and `components.responses` hoisted into
 * `components.schemas`. Two different schemas with one title throw SchemaNameConflictError: the
 * document would otherwise describe one of them wrongly.
 */
export function hoistNamedSchemas<T extends object>(document: T): T & { components: { schemas: Record<string, unknown> } } {
  const named = new Map<string, { schema: JsonObject; text: string; at: string }>();

  function visit(node: unknown, at: string): Json {
    if (Array.isArray(node)) return node.map((item, index) => visit(item, `${at}/${index}`));
    if (!isObject(node)) return node as Json;
    const copy: JsonObject = {};
    for (const [key, value] of Object.entries(node)) {
      copy[key] = DATA_KEYS.has(key) ? (structuredClone(value) as Json) : visit(value, `${at}/${escape(key)}`);
    }
    // `Type.Enum` writes `enum` alone; generators type such a schema as "any" unless `type` says what the values are.
    if (Array.isArray(copy.enum) && !('type' in copy) && copy.enum.length > 0 && copy.enum.every((value) => typeof value === 'string')) {
      return finish({ type: 'string', ...copy }, at);
    }
    return finish(copy, at);
  }

  function finish(copy: JsonObject, at: string): Json {
    if (!looksLikeSchema(copy)) return copy;
    const name = copy.title as string;
    if (!COMPONENT_NAME.test(name)) throw new Error(`The schema title "${name}" (at ${at}) is not a component name: letters, digits, ".", "_" and "-" only.`);
    const text = JSON.stringify(copy);
    const seen = named.get(name);
    if (seen === undefined) named.set(name, { schema: copy, text, at });
    else if (seen.text !== text) throw new SchemaNameConflictError(name, seen.at, at);
    return { $ref: `#/components/schemas/${name}` };
  }

  const source = document as unknown as { paths?: unknown; components?: { schemas?: Record<string, Json>; responses?: unknown } & Record<string, unknown> };
  const paths = visit(source.paths ?? {}, '#/paths');
  const components = { ...(source.components ?? {}) };
  if (components.responses !== undefined) components.responses = visit(components.responses, '#/components/responses');
  const schemas: Record<string, Json> = { ...(components.schemas ?? {}) };
  for (const [name, { schema, at }] of [...named].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name in schemas) throw new SchemaNameConflictError(name, `#/components/schemas/${escape(name)}`, at);
    schemas[name] = schema;
  }
  return { ...document, paths, components: { ...components, schemas } } as T & { components: { schemas: Record<string, unknown> } };
}
