import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { heldScopes } from '../../auth/decision.js';
import { anyPrincipal } from '../../auth/scopes.js';
import type { FenceLookups } from '../../auth/resource-fence.js';
import { principalOf, type RouteInventory } from '../../http/auth-gate.js';
import { AppError } from '../../http/errors.js';
import type { Clock } from '../../lib/clock.js';
import { createRouteMatcher, preflight } from './preflight.js';
import { Nullable } from '../../http/schemas.js';

const Me = Type.Object({
  type: Type.Union([Type.Literal('user'), Type.Literal('api_key')]),
  user_id: Type.String({ description: 'The signed-in user, or the user who created the key.' }),
  account_id: Type.String(),
  org_id: Nullable(Type.String()),
  email: Nullable(Type.String()),
  api_key: Nullable(Type.Object({ id: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()) })),
}, { title: 'Me' });

const PreflightQuery = Type.Object(
  {
    method: Type.Enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], { description: 'The method of the request to check.' }),
    path: Type.String({ minLength: 1, maxLength: 2048, pattern: '^/[^\\u0000-\\u001f\\u007f ]*$', description: 'Its path, e.g. /clusters/cls_…/node-pools (a query string is ignored).' }),
    cluster_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'For POST /apps: the cluster the app would be created on.' })),
  },
  { additionalProperties: false },
);

const Preflight = Type.Object(
  {
    allowed: Type.Boolean({ description: 'Whether the calling credential would get past authorization (validation and state are not checked).' }),
    required_scope: Nullable(Type.String({ description: 'The scope an API key needs for the route (null: none, or keys are refused).' })),
    refused_by: Nullable(
      Type.Enum(['scope', 'user_session_required', 'ip_not_allowed', 'resource_not_allowed'], { description: 'What would refuse it; null when allowed.' }),
    ),
    route: Type.String({ description: 'The operation the path reaches, e.g. `POST /clusters/{id}/node-pools`.' }),
    detail: Nullable(Type.String({ description: 'The words of the refusal (the seed\'s message for a missing scope).' })),
  },
  { title: 'Preflight' },
);

export function registerMeRoutes(root: FastifyInstance, deps: { routes: RouteInventory; fenceLookups: FenceLookups; clock: Clock }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  // Compiled on first use: the inventory fills as the other modules register their routes.
  let match: ReturnType<typeof createRouteMatcher> | null = null;
  const now = () => deps.clock.now().getTime();

  app.get(
    '/me/check',
    {
      // The address is reported here (refused_by ip_not_allowed), not refused.
      config: { auth: anyPrincipal, reportsAddress: true },
      schema: {
        operationId: 'checkRequest',
        tags: ['Identity'],
        summary: 'Pre-flight: would the calling credential be allowed this request, and if not what refuses it (no side effect)',
        querystring: PreflightQuery,
        response: { 200: Preflight },
      },
    },
    async (request) => {
      match ??= createRouteMatcher(deps.routes);
      const { method, path, cluster_id: clusterId } = request.query;
      const bare = path.split('?')[0] as string;
      const route = match(method, bare);
      if (route === null) throw new AppError('not_found', `No route ${method} ${bare.slice(0, 200)}.`);
      return preflight(principalOf(request), request, route, { now, lookups: deps.fenceLookups, clusterId });
    },
  );

  app.get(
    '/me',
    { config: { auth: anyPrincipal }, schema: { operationId: 'getMe', tags: ['Identity'], summary: 'Who is calling', response: { 200: Me } } },
    // Synchronous: a value returned (not a promise) is sent without a microtask round.
    (request) => {
      const principal = principalOf(request);
      if (principal.type === 'user') {
        return {
          type: 'user' as const,
          user_id: principal.userId,
          account_id: principal.accountId,
          org_id: principal.orgId,
          email: principal.email,
          api_key: null,
        };
      }
      return {
        type: 'api_key' as const,
        user_id: principal.userId,
        account_id: principal.accountId,
        org_id: principal.accountId.startsWith('org_') ? principal.accountId : null,
        email: null,
        // The scopes it holds now: one whose scope_expires_at has passed is not among them.
        api_key: { id: principal.keyId, name: principal.keyName, scopes: principal.scopeLapses === null ? principal.scopes : [...heldScopes(principal, now)] },
      };
    },
  );
}
