import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { userOnly } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import type { TokenIssuer } from '../signing-keys/token-issuer.js';
import { userOf } from '../../http/auth-gate.js';
import { notFound, validationFailed } from '../../http/errors.js';
import { IdParams, Timestamp } from '../../http/schemas.js';
import { createClusterRepo } from '../clusters/cluster-repo.js';

const tags = ['Clusters'];

/** Long enough to open the data plane's UI, short enough that a leaked token is soon useless. */
export const DATA_PLANE_TOKEN_TTL_SECONDS = 5 * 60;

const NoFields = Type.Object({}, { additionalProperties: false });

const DataPlaneToken = Type.Object({
  token: Type.String({ description: 'A JWT carrying the user id (sub) and email; verify it with /.well-known/jwks.json.' }),
  token_type: Type.Literal('Bearer'),
  audience: Type.String({ description: '`skaledata:cluster:<cluster id>`' }),
  cluster_id: Type.String(),
  expires_in: Type.Integer(),
  issued_at: Timestamp,
  expires_at: Timestamp,
});

/**
 * The handoff from the control plane to a cluster's data plane. User-only (seed: "data plane handoff
 * (needs user email)"): the data plane identifies people by email, which an API key does not have.
 */
export function registerDataPlaneRoutes(root: FastifyInstance, deps: Pick<ModuleDeps, 'database'> & { issuer: TokenIssuer }): void {
  const { issuer } = deps;
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const clusters = createClusterRepo(deps.database.db);

  app.post(
    '/clusters/:id/data-plane-token',
    {
      config: { auth: userOnly },
      schema: {
        tags,
        summary: "Short-lived signed token (carries the user's email) for the cluster's data plane",
        params: IdParams,
        body: NoFields,
        response: { 200: DataPlaneToken },
      },
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const principal = userOf(request);
      if (principal.email === null) {
        throw validationFailed([{ path: 'session.email', message: 'the session lacks an email; the data plane identifies users by email, so add the email claim to the session token' }]);
      }
      const cluster = await clusters.get(principal.accountId, request.params.id);
      if (!cluster || cluster.status === 'deleted' || cluster.deleted_at !== null) throw notFound('cluster', request.params.id);
      const audience = `skaledata:cluster:${cluster.id}`;
      const issued = await issuer.sign(
        { email: principal.email, account: principal.accountId, org_id: principal.orgId, cluster_id: cluster.id },
        { audience, subject: principal.userId, ttlSeconds: DATA_PLANE_TOKEN_TTL_SECONDS },
      );
      return {
        token: issued.token,
        token_type: 'Bearer' as const,
        audience,
        cluster_id: cluster.id,
        expires_in: DATA_PLANE_TOKEN_TTL_SECONDS,
        issued_at: issued.issuedAt.toISOString(),
        expires_at: issued.expiresAt.toISOString(),
      };
    },
  );
}
