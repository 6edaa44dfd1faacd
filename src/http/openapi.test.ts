import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { SchemaNameConflictError } from './openapi-components.js';
import { OpenApiDeclarationError, registerOpenApi } from './openapi.js';

const auth = { kind: 'public' } as const;

/** A bare server with the OpenAPI plugin and the routes `add` declares; ready() generates the document. */
async function serverWith(add: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await registerOpenApi(app, { publicUrl: 'https://api.example.test' });
  add(app);
  return app;
}

let open: FastifyInstance | null = null;
afterEach(async () => {
  await open?.close().catch(() => undefined);
  open = null;
});

describe('the OpenAPI document is checked when the server gets ready', () => {
  it('starts with well-declared routes, and ends summaries with the requirement', async () => {
    open = await serverWith((app) => {
      app.get('/a', { config: { auth }, schema: { operationId: 'getA', tags: ['System'], summary: 'A' } }, async () => ({}));
    });
    await open.ready();
    const document = open.swagger() as unknown as { paths: Record<string, Record<string, { summary: string; responses: Record<string, unknown> }>>; servers: unknown };
    expect(document.paths['/a']?.get?.summary).toBe('A · public');
    expect(document.servers).toEqual([expect.objectContaining({ url: 'https://api.example.test' })]);
  });

  it('refuses a route without an operationId', async () => {
    open = await serverWith((app) => {
      app.get('/a', { config: { auth }, schema: { tags: ['System'], summary: 'A' } }, async () => ({}));
    });
    await expect(open.ready()).rejects.toThrow(OpenApiDeclarationError);
  });

  it('refuses one operationId on two routes', async () => {
    open = await serverWith((app) => {
      app.get('/a', { config: { auth }, schema: { operationId: 'getThing', tags: ['System'], summary: 'A' } }, async () => ({}));
      app.get('/b', { config: { auth }, schema: { operationId: 'getThing', tags: ['System'], summary: 'B' } }, async () => ({}));
    });
    await expect(open.ready()).rejects.toThrow(/getThing is declared by both GET \/a and GET \/b/);
  });

  it('refuses an undeclared tag', async () => {
    open = await serverWith((app) => {
      app.get('/a', { config: { auth }, schema: { operationId: 'getA', tags: ['Nonsense'], summary: 'A' } }, async () => ({}));
    });
    await expect(open.ready()).rejects.toThrow(OpenApiDeclarationError);
  });

  it('refuses two different schemas with one title', async () => {
    const one = Type.Object({ id: Type.String() }, { title: 'Thing' });
    const other = Type.Object({ id: Type.Integer() }, { title: 'Thing' });
    open = await serverWith((app) => {
      app.get('/a', { config: { auth }, schema: { operationId: 'getA', tags: ['System'], summary: 'A', response: { 200: one } } }, async () => ({ id: 'x' }));
      app.get('/b', { config: { auth }, schema: { operationId: 'getB', tags: ['System'], summary: 'B', response: { 200: other } } }, async () => ({ id: 1 }));
    });
    await expect(open.ready()).rejects.toThrow(SchemaNameConflictError);
  });
});
