import { describe, expect, it } from 'vitest';
import { hoistNamedSchemas, SchemaNameConflictError } from './openapi-components.js';

const cluster = { type: 'object', title: 'Cluster', properties: { id: { type: 'string' } } };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });

describe('hoistNamedSchemas', () => {
  it('moves titled schemas into components and leaves $refs, nested ones included', () => {
    const document = {
      paths: {
        '/clusters': { get: { responses: { 200: json({ type: 'object', title: 'ClusterList', properties: { data: { type: 'array', items: cluster } } }) } } },
        '/clusters/{id}': { get: { responses: { 200: json(cluster) } } },
      },
      components: { securitySchemes: {} },
    };
    const hoisted = hoistNamedSchemas(document);
    expect(hoisted.paths['/clusters/{id}'].get.responses[200]).toEqual(json({ $ref: '#/components/schemas/Cluster' }));
    expect(hoisted.components).toEqual({
      securitySchemes: {},
      schemas: {
        Cluster: cluster,
        ClusterList: { type: 'object', title: 'ClusterList', properties: { data: { type: 'array', items: { $ref: '#/components/schemas/Cluster' } } } },
      },
    });
    // The input is left as it was.
    expect(document.paths['/clusters/{id}'].get.responses[200]).toEqual(json(cluster));
  });

  it('leaves examples and other data alone, even when they hold a "title"', () => {
    const problem = { type: 'object', title: 'Problem', properties: { title: { type: 'string' } }, examples: [{ title: 'Forbidden', type: 'object' }] };
    const hoisted = hoistNamedSchemas({ paths: { '/x': { get: { responses: { 403: json(problem) } } } } });
    expect(hoisted.components).toEqual({ schemas: { Problem: problem } });
  });

  it('refuses two different schemas with one title', () => {
    const other = { ...cluster, properties: { id: { type: 'integer' } } };
    const document = { paths: { '/a': { get: { responses: { 200: json(cluster) } } }, '/b': { get: { responses: { 200: json(other) } } } } };
    expect(() => hoistNamedSchemas(document)).toThrow(SchemaNameConflictError);
    expect(() => hoistNamedSchemas(document)).toThrow(/"Cluster".*#\/paths\/~1a.*#\/paths\/~1b/);
  });

  it('refuses a title that cannot be a component name', () => {
    expect(() => hoistNamedSchemas({ paths: { '/a': { get: { responses: { 200: json({ type: 'object', title: 'A cluster' }) } } } } })).toThrow(/component name/);
  });

  it('types string enums that name no type (as Type.Enum writes them), and leaves others alone', () => {
    const hoisted = hoistNamedSchemas({
      paths: { '/a': { get: { parameters: [{ in: 'query', name: 'status', schema: { enum: ['running', 'failed'] } }, { in: 'query', name: 'n', schema: { enum: [1, 2] } }] } } },
    });
    expect(hoisted.paths['/a'].get.parameters.map((parameter) => parameter.schema)).toEqual([{ type: 'string', enum: ['running', 'failed'] }, { enum: [1, 2] }]);
  });
});
