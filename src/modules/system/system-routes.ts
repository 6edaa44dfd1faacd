import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppDeps } from '../../app-context.js';
import { SCOPE_DESCRIPTIONS, SCOPES, publicRoute, type Scope } from '../../auth/scopes.js';
import type { RouteInventory } from '../../http/auth-gate.js';
import { AppError } from '../../http/errors.js';

const tags = ['System'];

/** What a scope unlocks, read from the routes' own declarations (so it cannot drift from what is enforced). */
function endpointsFor(scope: Scope, routes: RouteInventory): string[] {
  return routes
    .filter(({ auth }) => (scope === 'full' ? auth.kind === 'full' || auth.kind === 'scope' || auth.kind === 'anyPrincipal' : auth.kind === 'scope' && auth.scope === scope))
    .map(({ method, url }) => `${method} ${url}`);
}

export function registerSystemRoutes(root: FastifyInstance, deps: AppDeps, routes: RouteInventory): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/healthz',
    { config: { auth: publicRoute }, schema: { tags, summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { auth: publicRoute },
      schema: { tags, summary: 'Readiness: the database answers', response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String() }) } },
    },
    async () => {
      try {
        await deps.database.ping();
      } catch {
        throw new AppError('service_unavailable', 'The database is not reachable.', {}, { 'retry-after': '5' });
      }
      return { status: 'ready' as const, database: deps.database.kind };
    },
  );

  app.get(
    '/scopes',
    {
      config: { auth: publicRoute },
      schema: {
        tags,
        summary: 'The scope catalogue',
        response: {
          200: Type.Object({
            data: Type.Array(Type.Object({ name: Type.String(), description: Type.String(), endpoints: Type.Array(Type.String()) })),
            user_only_endpoints: Type.Array(Type.String({ description: 'Refuse every API key, full included.' })),
          }),
        },
      },
    },
    async () => ({
      data: SCOPES.map((name) => ({ name, description: SCOPE_DESCRIPTIONS[name], endpoints: endpointsFor(name, routes) })),
      user_only_endpoints: routes.filter(({ auth }) => auth.kind === 'userOnly').map(({ method, url }) => `${method} ${url}`),
    }),
  );

  app.get(
    '/openapi.json',
    { config: { auth: publicRoute }, schema: { hide: true } },
    async () => root.swagger(),
  );
}
