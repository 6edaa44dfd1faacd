import type { FastifyRequest } from 'fastify';
import { RESOURCE_NOT_ALLOWED } from '../../auth/decision.js';
import type { Principal } from '../../auth/principal.js';
import { checkFence, type FenceLookups } from '../../auth/resource-fence.js';
import { requiredScope } from '../../auth/scopes.js';
import { fenceOf } from '../../auth/principal.js';
import { refusalAfterCredential, type RouteInventory } from '../../http/auth-gate.js';

type InventoryEntry = RouteInventory[number];

interface CompiledRoute {
  entry: InventoryEntry;
  pattern: RegExp;
  params: string[];
}

export type RefusedBy = 'scope' | 'user_session_required' | 'ip_not_allowed' | 'resource_not_allowed' | null;

export interface PreflightAnswer {
  allowed: boolean;
  required_scope: string | null;
  refused_by: RefusedBy;
  /** The route the path matched, as the API reference names it. */
  route: string;
  /** The refusal's words, as the real request would get them (null when allowed). */
  detail: string | null;
}

/**
 * Finds the route a method and concrete path would reach, as Fastify's router would: static segments
 * before parameters, one segment per parameter. Built once from the route inventory.
 */
export function createRouteMatcher(inventory: RouteInventory) {
  const compiled: CompiledRoute[] = inventory.map((entry) => {
    const params: string[] = [];
    const source = entry.url
      .split('/')
      .map((segment) => {
        const param = /^\{(\w+)\}$/.exec(segment);
        if (param === null) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        params.push(param[1] as string);
        return '([^/]+)';
      })
      .join('/');
    return { entry, pattern: new RegExp(`^${source}$`), params };
  });
  // Fewer parameters first: a static route wins over a parametric one, as in the router.
  compiled.sort((a, b) => a.params.length - b.params.length);

  return (method: string, path: string): { entry: InventoryEntry; params: Record<string, string> } | null => {
    for (const route of compiled) {
      if (route.entry.method !== method) continue;
      const match = route.pattern.exec(path);
      if (match === null) continue;
      const params: Record<string, string> = {};
      route.params.forEach((name, index) => {
        const raw = match[index + 1] as string;
        try {
          params[name] = decodeURIComponent(raw);
        } catch {
          params[name] = raw;
        }
      });
      return { entry: route.entry, params };
    }
    return null;
  };
}

/**
 * The pre-flight of GET /me/check: what the gate and the resource fence would answer the caller for this
 * route, decided by the same functions (refusalAfterCredential, checkFence), reading nothing but owners.
 * `clusterId`: for POST /apps, the cluster the app would be created on.
 */
export async function preflight(
  principal: Principal,
  request: Pick<FastifyRequest, 'ip'>,
  route: { entry: InventoryEntry; params: Record<string, string> },
  options: { now: () => number; lookups: FenceLookups; clusterId?: string | undefined },
): Promise<PreflightAnswer> {
  const { entry, params } = route;
  const scopeName = requiredScope(entry.auth);
  const answer = (refusedBy: RefusedBy, detail: string | null): PreflightAnswer => ({
    allowed: refusedBy === null,
    required_scope: scopeName,
    refused_by: refusedBy,
    route: `${entry.method} ${entry.url}`,
    detail,
  });
  if (entry.auth.kind === 'public') return answer(null, null);
  const refused = refusalAfterCredential(entry.auth, principal, request, options.now, entry.fence);
  if (refused !== null) {
    const by: RefusedBy =
      refused.code === 'ip_not_allowed' || refused.code === 'user_session_required' || refused.code === 'resource_not_allowed' ? refused.code : 'scope';
    return answer(by, refused.detail);
  }
  const fence = fenceOf(principal);
  if (fence === null || entry.fence === null) return answer(null, null);
  // Without a cluster for a new app, any of the key's clusters would do.
  const clusterId = entry.fence.kind === 'new-app' && options.clusterId === undefined ? fence.clusters.values().next().value : options.clusterId;
  const outcome = await checkFence(fence, entry.fence, { accountId: principal.accountId, params, clusterId }, options.lookups);
  if (outcome === 'through') return answer(null, null);
  // A resource outside the key's list is answered 404 by the real request; the pre-flight names why.
  return answer('resource_not_allowed', outcome === 'refused' ? RESOURCE_NOT_ALLOWED.detail : 'This API key is limited to some clusters and apps (its resources), and this is not one of them: the request would answer 404.');
}
