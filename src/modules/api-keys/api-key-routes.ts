import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { SCOPES, fullOnly, userOnly } from '../../auth/scopes.js';
import { principalOf, userOf } from '../../http/auth-gate.js';
import { PageQuery, pageSchema } from '../../http/pagination.js';
import { IdParams } from '../../http/schemas.js';
import type { Clock } from '../../lib/clock.js';
import type { DatabaseHandle } from '../../db/database.js';
import type { ApiKeyStore } from './api-key-store.js';
import { actorOf } from '../events/actor.js';
import { unknownResources } from './key-resources-repo.js';
import { ApiKey, ApiKeyWithSecret, CreateApiKeyBody, RollApiKeyBody, UpdateApiKeyBody } from './api-key-schemas.js';
import { createApiKeyService } from './api-key-service.js';

const tags = ['API keys'];
const scopeHint = { scopes: `valid scopes: ${SCOPES.join(', ')}` };

export function registerApiKeyRoutes(root: FastifyInstance, deps: { keys: ApiKeyStore; clock: Clock; database: Pick<DatabaseHandle, 'db'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createApiKeyService({ keys: deps.keys, clock: deps.clock, unknownResources: (accountId, list) => unknownResources(deps.database.db, accountId, list) });

  app.get(
    '/api-keys',
    {
      config: { auth: fullOnly },
      schema: { operationId: 'listApiKeys', tags, summary: "List the account's API keys (never their secrets)", querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageSchema(ApiKey) } },
    },
    async (request) => service.list(principalOf(request).accountId, request.query),
  );

  app.get(
    '/api-keys/:id',
    { config: { auth: fullOnly }, schema: { operationId: 'getApiKey', tags, summary: 'Get one API key', params: IdParams, response: { 200: ApiKey } } },
    async (request) => service.get(principalOf(request).accountId, request.params.id),
  );

  app.post(
    '/api-keys',
    {
      config: { auth: userOnly, validationHints: scopeHint },
      schema: {
        operationId: 'createApiKey',
        tags,
        summary: 'Create an API key; the response carries the secret once',
        body: CreateApiKeyBody,
        response: { 201: ApiKeyWithSecret },
      },
    },
    async (request, reply) => {
      reply.code(201);
      const user = userOf(request);
      return service.create(user, actorOf(request, user), request.body);
    },
  );

  app.patch(
    '/api-keys/:id',
    {
      config: { auth: userOnly, validationHints: scopeHint, problems: ['conflict'] },
      schema: {
        operationId: 'updateApiKey',
        tags,
        summary: 'Rename a key, narrow its scopes or change its restrictions (from the next request on, on every instance)',
        params: IdParams,
        body: UpdateApiKeyBody,
        response: { 200: ApiKey },
      },
    },
    async (request) => {
      const user = userOf(request);
      return service.update(user.accountId, request.params.id, actorOf(request, user), request.body);
    },
  );

  app.delete(
    '/api-keys/:id',
    { config: { auth: userOnly }, schema: { operationId: 'deleteApiKey', tags, summary: 'Revoke an API key (refused from the next request on)', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const user = userOf(request);
      await service.revoke(user.accountId, request.params.id, actorOf(request, user));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api-keys/:id/roll',
    {
      // The body is optional: no body means "no grace period".
      config: { auth: userOnly, optionalBody: true, problems: ['conflict'] },
      schema: {
        operationId: 'rollApiKey',
        tags,
        summary: 'Give a key a new secret; the old one works until the optional grace period ends (or, with retire_old on_first_use, until the new one is used)',
        params: IdParams,
        body: RollApiKeyBody,
        response: { 200: ApiKeyWithSecret },
      },
    },
    async (request) => {
      const user = userOf(request);
      return service.roll(user.accountId, request.params.id, actorOf(request, user), request.body ?? {});
    },
  );
}
