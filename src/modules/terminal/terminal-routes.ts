import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { publicRoute, scope } from '../../auth/scopes.js';
import type { Config } from '../../config.js';
import { principalOf } from '../../http/auth-gate.js';
import { IdParams, NoFields } from '../../http/schemas.js';
import type { ModuleDeps } from '../module.js';
import { RedeemBody, RedeemedSession, TerminalSession } from './terminal-schemas.js';
import { createTerminalService } from './terminal-service.js';

const tags = ['Terminal'];

export function registerTerminalRoutes(root: FastifyInstance, deps: ModuleDeps & { pepper: Buffer; config: Pick<Config, 'publicUrl'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createTerminalService({
    db: deps.database.db,
    clock: deps.clock,
    driver: deps.driver,
    pepper: deps.pepper,
    publicUrl: deps.config.publicUrl,
  });

  app.post(
    '/clusters/:id/terminal',
    {
      // The body is optional: there is nothing to send today.
      config: { auth: scope('terminal:exec'), optionalBody: true, problems: ['conflict', 'rate_limited'] },
      schema: {
        operationId: 'createTerminalSession',
        tags,
        summary: 'Set up a terminal pod: session id, pod, connect URL and a short-lived single-use token',
        params: IdParams,
        body: NoFields,
        response: { 201: TerminalSession },
      },
    },
    async (request, reply) => reply.code(201).send(await service.open(principalOf(request), request.params.id)),
  );

  // Public on purpose: the terminal gateway holds no credentials of its own; the token is the credential.
  app.post(
    '/terminal-sessions/redeem',
    {
      config: { auth: publicRoute, problems: ['invalid_token', 'service_unavailable', 'storage_full', 'storage_error'] },
      schema: {
        operationId: 'redeemTerminalSession',
        tags,
        summary: 'Spend a terminal token (called by the terminal gateway); a token works once, within 60 s',
        body: RedeemBody,
        response: { 200: RedeemedSession },
      },
    },
    async (request) => service.redeem(request.body.token),
  );
}
