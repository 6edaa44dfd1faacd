import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import { lifetimeWithin } from '../../auth/decision.js';
import { MAX_TOKEN_TTL_SECONDS } from '../signing-keys/signing-key-store.js';
import type { TokenIssuer } from '../signing-keys/token-issuer.js';
import type { RegistryAction } from '../registry/registry-scope.js';
import { CLOSED_APP_STATUSES } from '../registry/registry-repo.js';
import { registryRepository, signRegistryToken } from '../registry/registry-service.js';
import type { Db } from '../../db/database.js';
import { conflict, notFound } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { createAppCredentialRepo, type AppForCredentials } from './app-credential-repo.js';
import { renderDeployScript } from './deploy-script.js';

export const DEV_CREDENTIAL_DEFAULT_TTL_SECONDS = MAX_TOKEN_TTL_SECONDS;


/** Kubernetes namespace the app runs in: one per app name, which is unique on its cluster. */
export const appNamespace = (appName: string): string => `app-${appName}`.slice(0, 63);

function airflowUrl(app: AppForCredentials): string | null {
  if (app.cluster_endpoint === null) return null;
  try {
    return `https://${app.name}.apps.${new URL(app.cluster_endpoint).host}`;
  } catch {
    return null;
  }
}

export interface AppCredentialServiceDeps {
  db: Db;
  clock: Clock;
  issuer: TokenIssuer;
  publicUrl: string;
  registryService: string;
}

export function createAppCredentialService(deps: AppCredentialServiceDeps) {
  const { clock, issuer, publicUrl, registryService } = deps;
  const repo = createAppCredentialRepo(deps.db);

  async function openApp(accountId: string, appId: string): Promise<AppForCredentials> {
    const app = await repo.findLiveApp(accountId, appId);
    if (!app) throw notFound('app', appId);
    if (CLOSED_APP_STATUSES.includes(app.status)) {
      throw conflict(`App ${appId} is ${app.status}; it no longer gets credentials.`, { app_status: app.status });
    }
    return app;
  }

  return {
    /** A Docker distribution token (docs.docker.com registry token spec) for the app's repository only. */
    async registryToken(principal: Principal, appId: string, actions: readonly RegistryAction[]) {
      const app = await openApp(principal.accountId, appId);
      const repository = registryRepository(app.account_id, app.name);
      const granted = (['pull', 'push'] as const).filter((action) => actions.includes(action));
      const issued = await signRegistryToken(issuer, principal, registryService, [{ type: 'repository', name: repository, actions: granted }], clock.now().getTime());
      return {
        token: issued.token,
        access_token: issued.token,
        expires_in: issued.expires_in,
        issued_at: issued.issued_at,
        expires_at: issued.expires_at,
        registry: registryService,
        repository,
      };
    },

    /** A token scoped to one app plus the settings a local toolchain needs; each issuance is recorded. */
    async devCredentials(principal: Principal, appId: string, ttlSeconds: number) {
      const app = await openApp(principal.accountId, appId);
      const nowMs = clock.now().getTime();
      const id = newId('devCredential', nowMs);
      const issued = await issuer.sign(
        { app_id: app.id, account: app.account_id, cluster_id: app.cluster_id, token_use: 'app_dev' },
        // Never longer than apps:deploy is held (scope_expires_at).
        { audience: `skaledata:app:${app.id}`, subject: principalId(principal), ttlSeconds: lifetimeWithin(principal, ['apps:deploy'], nowMs, ttlSeconds), jti: id },
      );
      // Recorded after signing so the stored expiry is the token's own; the token itself is never stored.
      await repo.recordDevCredential({
        id,
        account_id: app.account_id,
        app_id: app.id,
        issued_to: principalId(principal),
        principal_type: principal.type,
        expires_at: issued.expiresAt.toISOString(),
        created_at: issued.issuedAt.toISOString(),
      });
      return {
        id,
        app_id: app.id,
        expires_at: issued.expiresAt.toISOString(),
        token: issued.token,
        connection: {
          api_url: publicUrl,
          cluster_endpoint: app.cluster_endpoint,
          namespace: appNamespace(app.name),
          app_name: app.name,
          type: app.type,
          ...(app.type === 'airflow' ? { airflow_url: airflowUrl(app) } : {}),
        },
      };
    },

    async deployScript(accountId: string, appId: string): Promise<{ filename: string; script: string }> {
      const app = await openApp(accountId, appId);
      return { filename: `deploy-${app.name}.sh`, script: renderDeployScript({ appId: app.id, appName: app.name, apiUrl: publicUrl }) };
    },
  };
}

export type AppCredentialService = ReturnType<typeof createAppCredentialService>;
