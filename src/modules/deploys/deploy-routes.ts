import type { Config } from '../../config.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import { IdParams } from '../../http/schemas.js';
import { CreateDeployBody, Deploy, DeployAccepted, DeployListQuery, DeployParams } from './deploy-schemas.js';
import { actorOf } from '../events/actor.js';
import { createDeployService } from './deploy-service.js';

const tags = ['Deploys'];

export function registerDeployRoutes(root: FastifyInstance, deps: ModuleDeps & { config: Pick<Config, 'registryService'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createDeployService({ db: deps.database.db, clock: deps.clock, driver: deps.driver, registryService: deps.config.registryService, events: deps.events });

  app.post(
    '/apps/:id/deploys',
    {
      config: { auth: scope('apps:deploy'), problems: ['conflict'] },
      schema: {
        operationId: 'createDeploy',
        tags,
        summary: 'Deploy an image (asynchronous; supersedes a deploy that is still queued)',
        params: IdParams,
        body: CreateDeployBody,
        response: { 202: DeployAccepted },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const result = await service.deploy(principal, actorOf(request, principal), request.params.id, request.body.image);
      reply.code(202);
      return result;
    },
  );

  app.get(
    '/apps/:id/deploys',
    {
      config: { auth: scope('apps:read') },
      schema: { operationId: 'listDeploys', tags, summary: 'Deploy history, newest first', params: IdParams, querystring: DeployListQuery, response: { 200: pageSchema(Deploy) } },
    },
    async (request) => service.list(principalOf(request).accountId, request.params.id, request.query),
  );

  // apps:deploy rather than apps:read on purpose: the seed's CI/CD key (apps:deploy + clusters:read) must
  // be able to follow the deploy it started, and it holds neither apps:read nor jobs:read.
  app.get(
    '/apps/:id/deploys/:deploy',
    { config: { auth: scope('apps:deploy') }, schema: { operationId: 'getDeploy', tags, summary: 'One deploy (what a CI pipeline polls)', params: DeployParams, response: { 200: Deploy } } },
    async (request) => service.get(principalOf(request).accountId, request.params.id, request.params.deploy),
  );
}
