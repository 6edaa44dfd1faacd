import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Webhook } from 'svix';
import { publicRoute } from '../../auth/scopes.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/database.js';
import { AppError } from '../../http/errors.js';
import { checkBody, keepRawJsonBodies, requiredRawBody, singleHeader } from '../../http/raw-body.js';
import type { Clock } from '../../lib/clock.js';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import { ClerkEvent, ClerkEventBody, ClerkEventOutcome, MAX_CLERK_EVENT_BYTES } from './clerk-webhook-schemas.js';
import { createClerkWebhookService } from './clerk-webhook-service.js';

const tags = ['Webhooks'];

const notConfigured = () => new AppError('not_found', 'Clerk webhooks are not set up on this server.');
const refused = (why: string) => new AppError('unauthenticated', `The delivery is refused: ${why}`);

export function registerClerkWebhookRoutes(root: FastifyInstance, deps: { config: Pick<Config, 'inbound'>; database: { db: Db }; keys: ApiKeyStore; clock: Clock }): void {
  const secret = deps.config.inbound.clerkWebhookSecret;
  const verifier = secret === null ? null : new Webhook(secret);
  const service = createClerkWebhookService({ db: deps.database.db, keys: deps.keys, clock: deps.clock });

  // The signature covers the raw bytes: this route alone keeps its JSON body unparsed.
  void root.register(async (scope) => {
    keepRawJsonBodies(scope, MAX_CLERK_EVENT_BYTES);
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/webhooks/clerk',
      {
        config: { auth: publicRoute, problems: ['unauthenticated', 'not_found', 'service_unavailable', 'storage_error'], documentedBody: ClerkEventBody },
        schema: {
          operationId: 'receiveClerkEvent',
          tags,
          summary: 'Clerk events: members and users who leave lose their keys (Clerk calls this)',
          description:
            'Verified with the Svix signature (`CLERK_WEBHOOK_SECRET`). `organizationMembership.deleted` revokes every live key the user created ' +
            'in that organisation; `user.deleted` every key the user created anywhere; `organization.deleted` every key of the organisation. ' +
            'Each revocation raises `api_key.owner_removed`. Answers 404 unless `CLERK_WEBHOOK_SECRET` is set; 401, revoking nothing, for a ' +
            'missing or wrong signature, a timestamp more than 5 minutes off, or a delivery id seen before (a replay).',
          response: { 200: ClerkEventOutcome },
        },
      },
      async (request) => {
        const raw = requiredRawBody(request.body);
        if (verifier === null) throw notConfigured();
        const id = singleHeader(request.headers['svix-id']);
        const timestamp = singleHeader(request.headers['svix-timestamp']);
        const signature = singleHeader(request.headers['svix-signature']);
        if (id === undefined || timestamp === undefined || signature === undefined) throw refused('the svix-id, svix-timestamp and svix-signature headers are required.');
        let payload: unknown;
        try {
          // Checks the signature over these exact bytes and that the timestamp is within 5 minutes of now.
          payload = verifier.verify(raw, { 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': signature });
        } catch {
          throw refused('its signature does not match this body and CLERK_WEBHOOK_SECRET, or its timestamp is more than 5 minutes off.');
        }
        const outcome = await service.handle(id, checkBody<ClerkEvent>(ClerkEvent, payload));
        if (outcome === 'replayed') throw refused(`delivery ${id} was received before (a replay).`);
        return outcome;
      },
    );
  });
}
