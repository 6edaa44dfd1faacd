import type { Config } from '../../config.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { fenceOf } from '../../auth/principal.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import type { ResponseCache } from '../../http/response-cache.js';
import { IdParams } from '../../http/schemas.js';
import { App, AppAccepted, AppHealth, AppListQuery, CreateAppBody, UpdateAppBody } from './app-schemas.js';
import { actorOf } from '../events/actor.js';
import { createAppService } from './app-service.js';

const tags = ['Apps'];

export function registerAppRoutes(root: FastifyInstance, deps: ModuleDeps & { responses: ResponseCache; config: Pick<Config, 'registryService'> }): void {
  const { responses } = deps;
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createAppService({ db: deps.database.db, clock: deps.clock, driver: deps.driver, registryService: deps.config.registryService, events: deps.events });
  // Seed: apps:read "List and get applications, health checks"; apps:manage "Create, update, delete, restart applications".
  const read = { auth: scope('apps:read') };
  const manage = { auth: scope('apps:manage') };

  app.get(
    '/apps',
    { config: read, schema: { operationId: 'listApps', tags, summary: 'List applications', querystring: AppListQuery, response: { 200: pageSchema(App) } } },
    (request, reply) => {
      const principal = principalOf(request);
      const { query } = request;
      const fence = fenceOf(principal);
      responses.send(request, reply, fence === null ? principal.accountId : null, () => service.list(principal.accountId, query, fence));
    },
  );

  app.get(
    '/apps/:id',
    { config: read, schema: { operationId: 'getApp', tags, summary: 'One application', params: IdParams, response: { 200: App } } },
    async (request) => service.get(principalOf(request).accountId, request.params.id),
  );

  app.post(
    '/apps',
    {
      config: { ...manage, problems: ['not_found', 'conflict'] },
      schema: { operationId: 'createApp', tags, summary: 'Create an application on a running cluster (with an image, its first deploy is queued)', body: CreateAppBody, response: { 201: App } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const created = await service.create(principal, actorOf(request, principal), request.body);
      reply.code(201);
      return created;
    },
  );

  app.patch(
    '/apps/:id',
    { config: { ...manage, problems: ['conflict'] }, schema: { operationId: 'updateApp', tags, summary: 'Rename an application or change its settings', params: IdParams, body: UpdateAppBody, response: { 200: App } } },
    async (request) => service.update(principalOf(request).accountId, request.params.id, request.body),
  );

  app.delete(
    '/apps/:id',
    { config: { ...manage, problems: ['conflict'] }, schema: { operationId: 'deleteApp', tags, summary: 'Delete an application (asynchronous teardown)', params: IdParams, response: { 202: AppAccepted } } },
    async (request, reply) => {
      const principal = principalOf(request);
      const result = await service.remove(principal, actorOf(request, principal), request.params.id);
      reply.code(202);
      return result;
    },
  );

  app.post(
    '/apps/:id/restart',
    { config: { ...manage, problems: ['conflict'] }, schema: { operationId: 'restartApp', tags, summary: 'Rolling restart of a running application (asynchronous)', params: IdParams, response: { 202: AppAccepted } } },
    async (request, reply) => {
      const result = await service.restart(principalOf(request), request.params.id);
      reply.code(202);
      return result;
    },
  );

  app.get(
    '/apps/:id/health',
    { config: read, schema: { operationId: 'getAppHealth', tags, summary: "The application's health checks as its cluster reports them", params: IdParams, response: { 200: AppHealth } } },
    async (request) => service.health(principalOf(request).accountId, request.params.id),
  );
}
