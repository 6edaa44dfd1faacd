import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { fullOnly, userOnly } from '../../auth/scopes.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import { IdParams } from '../../http/schemas.js';
import { actorOf } from '../events/actor.js';
import { CreatedWebhook, CreateWebhookBody, Webhook, WebhookDelivery, WebhookListQuery } from './webhook-schemas.js';
import type { createWebhookService } from './webhook-service.js';

const tags = ['Webhooks'];

/** CONTRACT §7: endpoints are managed by users (like keys), and read with `full`. */
export function registerWebhookRoutes(root: FastifyInstance, service: ReturnType<typeof createWebhookService>): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/webhooks',
    {
      config: { auth: userOnly },
      schema: { operationId: 'createWebhook', tags, summary: 'Add an endpoint that receives events (its signing secret is shown once)', body: CreateWebhookBody, response: { 201: CreatedWebhook } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      reply.code(201);
      return service.create(principal.accountId, actorOf(request, principal), request.body);
    },
  );

  app.get(
    '/webhooks',
    { config: { auth: fullOnly }, schema: { operationId: 'listWebhooks', tags, summary: "The account's webhook endpoints", querystring: WebhookListQuery, response: { 200: pageSchema(Webhook) } } },
    async (request) => service.list(principalOf(request).accountId, request.query),
  );

  app.delete(
    '/webhooks/:id',
    { config: { auth: userOnly }, schema: { operationId: 'deleteWebhook', tags, summary: 'Remove an endpoint (what it had still to receive is given up)', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const principal = principalOf(request);
      await service.remove(principal.accountId, request.params.id, actorOf(request, principal));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      config: { auth: userOnly, problems: ['conflict'] },
      schema: { operationId: 'testWebhook', tags, summary: 'Send a `webhook.test` message to this endpoint only', params: IdParams, response: { 202: WebhookDelivery } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      reply.code(202);
      return service.sendTest(principal.accountId, request.params.id, actorOf(request, principal));
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      config: { auth: fullOnly },
      schema: { operationId: 'listWebhookDeliveries', tags, summary: "An endpoint's deliveries, newest first: attempts, status codes, next retry", params: IdParams, querystring: WebhookListQuery, response: { 200: pageSchema(WebhookDelivery) } },
    },
    async (request) => service.deliveries(principalOf(request).accountId, request.params.id, request.query),
  );
}
