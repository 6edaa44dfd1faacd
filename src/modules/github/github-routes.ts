import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { principalOf } from '../../http/auth-gate.js';
import { GithubIntegration, PutGithubIntegrationBody } from './github-schemas.js';
import { createGithubService } from './github-service.js';

const tags = ['GitHub integration'];

/** The account's one GitHub App installation (seed: clusters:write "Manage ... GitHub integration"). */
export function registerGithubRoutes(root: FastifyInstance, deps: Omit<ModuleDeps, 'driver'>): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createGithubService({ db: deps.database.db, clock: deps.clock });

  app.get(
    '/integrations/github',
    { config: { auth: scope('clusters:read'), problems: ['not_found'] }, schema: { operationId: 'getGithubIntegration', tags, summary: "The account's GitHub integration (404 when none is connected)", response: { 200: GithubIntegration } } },
    async (request) => service.get(principalOf(request).accountId),
  );

  app.put(
    '/integrations/github',
    {
      config: { auth: scope('clusters:write') },
      schema: {
        operationId: 'putGithubIntegration',
        tags,
        summary: 'Connect a GitHub App installation, or replace the connected one',
        description: 'Answers 201 when the account had no integration, 200 when an existing one was replaced (created_at is kept).',
        body: PutGithubIntegrationBody,
        response: { 200: GithubIntegration, 201: GithubIntegration },
      },
    },
    async (request, reply) => {
      const { integration, created } = await service.connect(principalOf(request), request.body);
      return reply.code(created ? 201 : 200).send(integration);
    },
  );

  app.delete(
    '/integrations/github',
    { config: { auth: scope('clusters:write'), problems: ['not_found'] }, schema: { operationId: 'deleteGithubIntegration', tags, summary: 'Disconnect the GitHub integration', response: { 204: Type.Null() } } },
    async (request, reply) => {
      await service.disconnect(principalOf(request).accountId);
      return reply.code(204).send(null);
    },
  );
}
