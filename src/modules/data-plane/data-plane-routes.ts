import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { userOnly } from '../../auth/scopes.js';
import { userOf } from '../../http/auth-gate.js';
import { IdParams, NoFields } from '../../http/schemas.js';
import type { ModuleDeps } from '../module.js';
import type { TokenIssuer } from '../signing-keys/token-issuer.js';
import { DataPlaneToken } from './data-plane-schemas.js';
import { createDataPlaneService } from './data-plane-service.js';

const tags = ['Clusters'];

/**
 * The handoff from the control plane to a cluster's data plane. User-only (seed: "data plane handoff
 * (needs user email)"): the data plane identifies people by email, which an API key does not have.
 */
export function registerDataPlaneRoutes(root: FastifyInstance, deps: Pick<ModuleDeps, 'database'> & { issuer: TokenIssuer }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createDataPlaneService(deps);

  app.post(
    '/clusters/:id/data-plane-token',
    {
      // The body is optional: there is nothing to send today.
      config: { auth: userOnly, optionalBody: true },
      schema: {
        operationId: 'createDataPlaneToken',
        tags,
        summary: "Short-lived signed token (carries the user's email) for the cluster's data plane",
        params: IdParams,
        body: NoFields,
        response: { 200: DataPlaneToken },
      },
    },
    async (request) => service.issueToken(userOf(request), request.params.id),
  );
}
