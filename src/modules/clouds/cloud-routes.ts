import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { fenceOf } from '../../auth/principal.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import type { ResponseCache } from '../../http/response-cache.js';
import { IdParams } from '../../http/schemas.js';
import { Cloud, CloudListQuery, CreateCloudBody, UpdateCloudBody } from './cloud-schemas.js';
import { actorOf } from '../events/actor.js';
import { createCloudService } from './cloud-service.js';

const tags = ['Clouds'];

export function registerCloudRoutes(root: FastifyInstance, deps: Omit<ModuleDeps, 'driver'> & { encryptionKey: Buffer; responses: ResponseCache }): void {
  const { responses } = deps;
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createCloudService({ db: deps.database.db, clock: deps.clock, encryptionKey: deps.encryptionKey, events: deps.events });

  app.get(
    '/clouds',
    { config: { auth: scope('clusters:read') }, schema: { operationId: 'listClouds', tags, summary: 'List connected cloud accounts', querystring: CloudListQuery, response: { 200: pageSchema(Cloud) } } },
    (request, reply) => {
      const principal = principalOf(request);
      const { query } = request;
      const fence = fenceOf(principal);
      responses.send(request, reply, fence === null ? principal.accountId : null, () => service.list(principal.accountId, query, fence));
    },
  );

  app.get(
    '/clouds/:id',
    { config: { auth: scope('clusters:read') }, schema: { operationId: 'getCloud', tags, summary: 'One cloud account', params: IdParams, response: { 200: Cloud } } },
    async (request) => service.get(principalOf(request).accountId, request.params.id),
  );

  app.post(
    '/clouds',
    { config: { auth: scope('clusters:write'), problems: ['conflict'] }, schema: { operationId: 'createCloud', tags, summary: 'Connect a cloud account', body: CreateCloudBody, response: { 201: Cloud } } },
    async (request, reply) => {
      reply.code(201);
      const principal = principalOf(request);
      return service.create(principal.accountId, actorOf(request, principal), request.body);
    },
  );

  app.patch(
    '/clouds/:id',
    { config: { auth: scope('clusters:write'), problems: ['conflict'] }, schema: { operationId: 'updateCloud', tags, summary: 'Rename, move or rotate credentials', params: IdParams, body: UpdateCloudBody, response: { 200: Cloud } } },
    async (request) => service.update(principalOf(request).accountId, request.params.id, request.body),
  );

  app.delete(
    '/clouds/:id',
    { config: { auth: scope('clusters:write'), problems: ['conflict'] }, schema: { operationId: 'deleteCloud', tags, summary: 'Remove a cloud account (409 while clusters use it)', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const principal = principalOf(request);
      await service.remove(principal.accountId, request.params.id, actorOf(request, principal));
      return reply.code(204).send(null);
    },
  );
}
