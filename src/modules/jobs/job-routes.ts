import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { fenceOf } from '../../auth/principal.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import { IdParams } from '../../http/schemas.js';
import { Job, JobListQuery, JobWithLogs } from './job-schemas.js';
import { createJobService } from './job-service.js';
import type { JobHandlerRegistry } from './job-types.js';

const tags = ['Jobs'];

export function registerJobRoutes(root: FastifyInstance, deps: Omit<ModuleDeps, 'driver'> & { jobHandlers: JobHandlerRegistry }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createJobService({ db: deps.database.db, clock: deps.clock, handlers: deps.jobHandlers });

  app.get(
    '/jobs',
    {
      config: { auth: scope('jobs:read') },
      schema: { operationId: 'listJobs', tags, summary: 'List asynchronous operations', querystring: JobListQuery, response: { 200: pageSchema(Job) } },
    },
    async (request) => {
      const principal = principalOf(request);
      return service.list(principal.accountId, request.query, fenceOf(principal));
    },
  );

  app.get(
    '/jobs/:id',
    {
      config: { auth: scope('jobs:read') },
      schema: { operationId: 'getJob', tags, summary: 'One job with its steps and log', params: IdParams, response: { 200: JobWithLogs } },
    },
    async (request) => service.get(principalOf(request).accountId, request.params.id),
  );

  app.post(
    '/jobs/:id/cancel',
    {
      config: { auth: scope('clusters:write'), problems: ['conflict'] },
      schema: {
        operationId: 'cancelJob',
        tags,
        summary: 'Cancel a queued job (at once) or a running one (before its next step)',
        params: IdParams,
        response: { 200: JobWithLogs, 202: JobWithLogs },
      },
    },
    async (request, reply) => {
      const { status, job } = await service.cancel(principalOf(request).accountId, request.params.id);
      return reply.code(status).send(job);
    },
  );
}
