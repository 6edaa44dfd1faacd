import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { fullOnly } from '../../auth/scopes.js';
import type { Db } from '../../db/database.js';
import type { RouteInventory } from '../../http/auth-gate.js';
import { principalOf } from '../../http/auth-gate.js';
import { pageSchema } from '../../http/pagination.js';
import { IdParams } from '../../http/schemas.js';
import type { Clock } from '../../lib/clock.js';
import type { ApiKeyStore } from './api-key-store.js';
import { ActivityQuery, ApiKeyActivity, ApiKeyUsage, MAX_USAGE_DAYS, UsageQuery } from './key-activity-schemas.js';
import { createKeyActivityService } from './key-activity-service.js';

const tags = ['API keys'];

/** Seeing what a key does (CONTRACT §7): read like the key itself, so `full` or a user session. */
export function registerKeyActivityRoutes(
  root: FastifyInstance,
  deps: { keys: ApiKeyStore; clock: Clock; database: { db: Db }; routes: RouteInventory },
): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createKeyActivityService(deps);

  app.get(
    '/api-keys/:id/activity',
    {
      config: { auth: fullOnly },
      schema: {
        operationId: 'listApiKeyActivity',
        tags,
        summary: "A key's requests of the last 30 days, newest first: each refusal and write, reads counted per minute",
        params: IdParams,
        querystring: ActivityQuery,
        response: { 200: pageSchema(ApiKeyActivity) },
      },
    },
    async (request) => service.activity(principalOf(request).accountId, request.params.id, request.query),
  );

  app.get(
    '/api-keys/:id/usage',
    {
      config: { auth: fullOnly },
      schema: {
        operationId: 'getApiKeyUsage',
        tags,
        summary: "A key's requests per route and scope over the last days, its unused scopes and the smallest scopes it needs",
        params: IdParams,
        querystring: UsageQuery,
        response: { 200: ApiKeyUsage },
      },
    },
    async (request) => service.usage(principalOf(request).accountId, request.params.id, request.query.days ?? MAX_USAGE_DAYS),
  );
}
