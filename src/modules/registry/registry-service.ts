import { decide, heldScopes, lifetimeWithin } from '../../auth/decision.js';
import type { Principal } from '../../auth/principal.js';
import { fenceOf, principalId } from '../../auth/principal.js';
import { scope, type Scope } from '../../auth/scopes.js';
import type { Db } from '../../db/database.js';
import { accountRegistryNamespace } from '../../lib/image-policy.js';
import { MAX_TOKEN_TTL_SECONDS } from '../signing-keys/signing-key-store.js';
import type { TokenIssuer } from '../signing-keys/token-issuer.js';
import { createRegistryRepo } from './registry-repo.js';
import type { GrantedAccess, RegistryAction, RequestedAccess } from './registry-scope.js';

/** Registry tokens live as long as a push needs, and no longer than any token we sign. */
export const REGISTRY_TOKEN_TTL_SECONDS = MAX_TOKEN_TTL_SECONDS;

/** The app's repository on our registry: in its account's namespace (lib/image-policy.ts). */
export function registryRepository(accountId: string, appName: string): string {
  return `${accountRegistryNamespace(accountId)}/${appName.toLowerCase()}`;
}

const NO_SCOPES: readonly Scope[] = [];

/**
 * What a principal may do on its own apps' repositories, by the same decision as the API routes:
 * push is what `apps:deploy` allows (POST /apps/{id}/registry-token), pull what `apps:deploy` or
 * `apps:read` allow. Users may do both, like every route.
 */
export function registryActions(principal: Principal, now: () => number): RegistryAction[] {
  const scopes = principal.type === 'api_key' ? heldScopes(principal, now) : NO_SCOPES;
  const allowed = (name: 'apps:deploy' | 'apps:read') => decide(scope(name), principal.type, scopes) === 'allowed';
  if (allowed('apps:deploy')) return ['pull', 'push'];
  return allowed('apps:read') ? ['pull'] : [];
}

export interface IssuedRegistryToken {
  token: string;
  expires_in: number;
  issued_at: string;
  expires_at: string;
}

/** A token in the Docker registry token format that Distribution verifies against our certificates. */
export async function signRegistryToken(issuer: TokenIssuer, principal: Principal, service: string, access: GrantedAccess[], nowMs: number): Promise<IssuedRegistryToken> {
  // No longer than the scope that granted it is held: push needs apps:deploy, pull either apps scope.
  const pushes = access.some((entry) => entry.actions.includes('push'));
  const ttlSeconds = lifetimeWithin(principal, pushes ? ['apps:deploy'] : ['apps:deploy', 'apps:read'], nowMs, REGISTRY_TOKEN_TTL_SECONDS);
  const issued = await issuer.sign({ access }, { audience: service, subject: principalId(principal), ttlSeconds, keyName: 'libtrust' });
  return {
    token: issued.token,
    expires_in: ttlSeconds,
    issued_at: issued.issuedAt.toISOString(),
    expires_at: issued.expiresAt.toISOString(),
  };
}

export function createRegistryService(deps: { db: Db; issuer: TokenIssuer; now: () => number }) {
  const repo = createRegistryRepo(deps.db);

  return {
    /**
     * The part of the requested access the principal has (the token spec: grant the intersection, and
     * an empty list rather than an error when nothing is allowed). Only repositories in the principal's
     * account namespace that belong to a live app qualify (for a key limited to some resources, an app it
     * may see); everything else is granted nothing.
     */
    async grant(principal: Principal, requested: readonly RequestedAccess[]): Promise<GrantedAccess[]> {
      const mayDo = registryActions(principal, deps.now);
      if (mayDo.length === 0) return [];
      const prefix = `${accountRegistryNamespace(principal.accountId)}/`;
      const appNameOf = (name: string) => (name.startsWith(prefix) && !name.slice(prefix.length).includes('/') ? name.slice(prefix.length) : null);
      const candidates = requested.filter((access) => access.type === 'repository' && appNameOf(access.name) !== null);
      const live = await repo.liveAppNames(principal.accountId, [...new Set(candidates.map((access) => appNameOf(access.name) as string))], fenceOf(principal));
      const granted = new Map<string, Set<RegistryAction>>();
      for (const access of candidates) {
        if (!live.has(appNameOf(access.name) as string)) continue;
        const actions = mayDo.filter((action) => access.actions.includes(action) || access.actions.includes('*'));
        if (actions.length === 0) continue;
        const entry = granted.get(access.name) ?? new Set();
        for (const action of actions) entry.add(action);
        granted.set(access.name, entry);
      }
      return [...granted].map(([name, actions]) => ({ type: 'repository', name, actions: (['pull', 'push'] as const).filter((a) => actions.has(a)) }));
    },

    issue: (principal: Principal, service: string, access: GrantedAccess[]) => signRegistryToken(deps.issuer, principal, service, access, deps.now()),
  };
}

export type RegistryService = ReturnType<typeof createRegistryService>;
