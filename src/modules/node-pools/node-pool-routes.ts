import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import { ClusterParams, CreateNodePoolBody, NodePool, NodePoolAccepted, NodePoolListQuery, PoolParams, ResizeNodePoolBody } from './node-pool-schemas.js';
import { createNodePoolService } from './node-pool-service.js';

const tags = ['Node pools'];

export function registerNodePoolRoutes(root: FastifyInstance, deps: ModuleDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createNodePoolService({ db: deps.database.db, clock: deps.clock, driver: deps.driver });
  const read = { auth: scope('clusters:read') };
  const write = { auth: scope('clusters:write') };

  app.get(
    '/clusters/:id/node-pools',
    { config: read, schema: { operationId: 'listNodePools', tags, summary: "List a cluster's node pools", params: ClusterParams, querystring: NodePoolListQuery, response: { 200: pageSchema(NodePool) } } },
    async (request) => service.list(principalOf(request).accountId, request.params.id, request.query),
  );

  app.get(
    '/clusters/:id/node-pools/:pool',
    { config: read, schema: { operationId: 'getNodePool', tags, summary: 'One node pool', params: PoolParams, response: { 200: NodePool } } },
    async (request) => service.get(principalOf(request).accountId, request.params.id, request.params.pool),
  );

  app.post(
    '/clusters/:id/node-pools',
    { config: { ...write, problems: ['conflict'] }, schema: { operationId: 'createNodePool', tags, summary: 'Add a node pool (asynchronous)', params: ClusterParams, body: CreateNodePoolBody, response: { 202: NodePoolAccepted } } },
    async (request, reply) => {
      reply.code(202);
      return service.create(principalOf(request), request.params.id, request.body);
    },
  );

  app.patch(
    '/clusters/:id/node-pools/:pool',
    { config: { ...write, problems: ['conflict'] }, schema: { operationId: 'updateNodePool', tags, summary: 'Resize a node pool (asynchronous)', params: PoolParams, body: ResizeNodePoolBody, response: { 202: NodePoolAccepted } } },
    async (request, reply) => {
      reply.code(202);
      return service.resize(principalOf(request), request.params.id, request.params.pool, request.body);
    },
  );

  app.delete(
    '/clusters/:id/node-pools/:pool',
    { config: { ...write, problems: ['conflict'] }, schema: { operationId: 'deleteNodePool', tags, summary: 'Remove a node pool (asynchronous)', params: PoolParams, response: { 202: NodePoolAccepted } } },
    async (request, reply) => {
      reply.code(202);
      return service.remove(principalOf(request), request.params.id, request.params.pool);
    },
  );
}
