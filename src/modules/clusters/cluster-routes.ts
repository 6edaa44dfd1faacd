import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { fenceOf } from '../../auth/principal.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import type { ResponseCache } from '../../http/response-cache.js';
import { IdParams } from '../../http/schemas.js';
import { Cluster, ClusterAccepted, ClusterListQuery, CreateClusterBody, UpdateClusterBody, UpgradeClusterBody } from './cluster-schemas.js';
import { actorOf } from '../events/actor.js';
import { createClusterService } from './cluster-service.js';

const tags = ['Clusters'];

export function registerClusterRoutes(root: FastifyInstance, deps: ModuleDeps & { responses: ResponseCache }): void {
  const { responses } = deps;
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createClusterService({ db: deps.database.db, clock: deps.clock, driver: deps.driver, events: deps.events });
  const read = { auth: scope('clusters:read') };
  const write = { auth: scope('clusters:write') };

  app.get(
    '/clusters',
    { config: read, schema: { operationId: 'listClusters', tags, summary: 'List clusters with their status', querystring: ClusterListQuery, response: { 200: pageSchema(Cluster) } } },
    (request, reply) => {
      const principal = principalOf(request);
      const { query } = request;
      const fence = fenceOf(principal);
      responses.send(request, reply, fence === null ? principal.accountId : null, () => service.list(principal.accountId, query, fence));
    },
  );

  app.get(
    '/clusters/:id',
    { config: read, schema: { operationId: 'getCluster', tags, summary: 'One cluster', params: IdParams, response: { 200: Cluster } } },
    async (request) => service.get(principalOf(request).accountId, request.params.id),
  );

  app.post(
    '/clusters',
    { config: { ...write, problems: ['not_found', 'conflict', 'plan_limit_reached'] }, schema: { operationId: 'createCluster', tags, summary: 'Create a cluster (asynchronous: follow the job)', body: CreateClusterBody, response: { 202: ClusterAccepted } } },
    async (request, reply) => {
      reply.code(202);
      const principal = principalOf(request);
      return service.create(principal, actorOf(request, principal), request.body);
    },
  );

  app.patch(
    '/clusters/:id',
    { config: { ...write, problems: ['conflict'] }, schema: { operationId: 'updateCluster', tags, summary: 'Update cluster settings', params: IdParams, body: UpdateClusterBody, response: { 200: Cluster } } },
    async (request) => service.update(principalOf(request).accountId, request.params.id, request.body),
  );

  app.post(
    '/clusters/:id/upgrade',
    { config: { ...write, problems: ['conflict'] }, schema: { operationId: 'upgradeCluster', tags, summary: 'Upgrade Kubernetes one minor version (asynchronous)', params: IdParams, body: UpgradeClusterBody, response: { 202: ClusterAccepted } } },
    async (request, reply) => {
      reply.code(202);
      return service.upgrade(principalOf(request), request.params.id, request.body.kubernetes_version);
    },
  );

  app.delete(
    '/clusters/:id',
    { config: { ...write, problems: ['conflict'] }, schema: { operationId: 'deleteCluster', tags, summary: 'Destroy a cluster and its node pools (asynchronous)', params: IdParams, response: { 202: ClusterAccepted } } },
    async (request, reply) => {
      reply.code(202);
      const principal = principalOf(request);
      return service.destroy(principal, actorOf(request, principal), request.params.id);
    },
  );
}
