import type { UserPrincipal } from '../../auth/principal.js';
import { notFound, validationFailed } from '../../http/errors.js';
import { createClusterRepo } from '../clusters/cluster-repo.js';
import type { ModuleDeps } from '../module.js';
import type { TokenIssuer } from '../signing-keys/token-issuer.js';

/** Long enough to open the data plane's UI, short enough that a leaked token is soon useless. */
export const DATA_PLANE_TOKEN_TTL_SECONDS = 5 * 60;

export function createDataPlaneService(deps: Pick<ModuleDeps, 'database'> & { issuer: TokenIssuer }) {
  const { issuer } = deps;
  const clusters = createClusterRepo(deps.database.db);

  return {
    /** A token for one live cluster's data plane, naming the user and their email (the data plane knows people by email). */
    async issueToken(user: UserPrincipal, clusterId: string) {
      if (user.email === null) {
        throw validationFailed([{ path: 'session.email', message: 'the session lacks an email; the data plane identifies users by email, so add the email claim to the session token' }]);
      }
      const cluster = await clusters.get(user.accountId, clusterId);
      if (!cluster || cluster.status === 'deleted' || cluster.deleted_at !== null) throw notFound('cluster', clusterId);
      const audience = `skaledata:cluster:${cluster.id}`;
      const issued = await issuer.sign(
        { email: user.email, account: user.accountId, org_id: user.orgId, cluster_id: cluster.id },
        { audience, subject: user.userId, ttlSeconds: DATA_PLANE_TOKEN_TTL_SECONDS },
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
  };
}
