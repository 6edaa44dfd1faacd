import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { fullOnly } from '../../auth/scopes.js';
import { principalOf } from '../../http/auth-gate.js';
import { AppError } from '../../http/errors.js';
import { pageRequest, pageSchema, toPage } from '../../http/pagination.js';
import { presentEvent, type EventLog } from './event-log.js';
import { Event, EventQuery } from './event-schemas.js';

export function registerEventRoutes(root: FastifyInstance, deps: { events: EventLog }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/events',
    {
      config: { auth: fullOnly },
      schema: {
        operationId: 'listEvents',
        tags: ['Events'],
        summary: "The account's audit trail, newest first: key lifecycle, clouds, clusters, apps, deploys, billing and webhooks",
        querystring: EventQuery,
        response: { 200: pageSchema(Event) },
      },
    },
    async (request) => {
      const { type, api_key_id: apiKeyId, since } = request.query;
      let sinceInstant: string | undefined;
      if (since !== undefined) {
        const at = new Date(since);
        // Formats such as leap seconds pass the schema but are no instant JavaScript can hold.
        if (Number.isNaN(at.getTime())) {
          throw new AppError('validation_failed', 'query.since: is not a valid instant', { errors: [{ path: 'query.since', message: 'is not a valid instant' }] });
        }
        sinceInstant = at.toISOString();
      }
      const page = pageRequest(request.query);
      const rows = await deps.events.list(principalOf(request).accountId, { type, apiKeyId, since: sinceInstant }, page);
      return toPage(rows, page, presentEvent);
    },
  );
}
