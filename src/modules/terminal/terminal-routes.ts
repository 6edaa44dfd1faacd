import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../../config.js';
import { publicRoute, scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { principalOf } from '../../http/auth-gate.js';
import { IdParams, Timestamp } from '../../http/schemas.js';
import { createTerminalService } from './terminal-service.js';

const tags = ['Terminal'];

const TerminalSession = Type.Object({
  session_id: Type.String(),
  cluster_id: Type.String(),
  pod: Type.String(),
  namespace: Type.String(),
  connect_url: Type.String({ description: 'WebSocket URL of the terminal gateway for this session.' }),
  token: Type.String({ description: 'Single-use, valid for 60 s; shown only here. Present it to the gateway.' }),
  expires_at: Timestamp,
});

/** Nothing to send; a body, if any, must be an empty object (unknown fields are refused, not ignored). */
const NoFields = Type.Object({}, { additionalProperties: false });

const RedeemBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false });

const RedeemedSession = Type.Object({
  session_id: Type.String(),
  cluster_id: Type.String(),
  pod: Type.String(),
  namespace: Type.String(),
  account_id: Type.String(),
});

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
      config: { auth: scope('terminal:exec') },
      schema: {
        tags,
        summary: 'Set up a terminal pod: session id, pod, connect URL and a short-lived single-use token',
        params: IdParams,
        body: NoFields,
        response: { 201: TerminalSession },
      },
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => reply.code(201).send(await service.open(principalOf(request), request.params.id)),
  );

  // Public on purpose: the terminal gateway holds no credentials of its own; the token is the credential.
  app.post(
    '/terminal-sessions/redeem',
    {
      config: { auth: publicRoute },
      schema: {
        tags,
        summary: 'Spend a terminal token (called by the terminal gateway); a token works once, within 60 s',
        body: RedeemBody,
        response: { 200: RedeemedSession },
      },
    },
    async (request) => service.redeem(request.body.token),
  );
}
