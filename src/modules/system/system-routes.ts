import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { DatabaseHandle } from '../../db/database.js';
import { SCOPE_DESCRIPTIONS, SCOPES, publicRoute, type Scope } from '../../auth/scopes.js';
import type { RouteInventory } from '../../http/auth-gate.js';
import { faultError, sendProblem } from '../../http/error-handler.js';
import { AppError } from '../../http/errors.js';

const tags = ['System'];

/** What a scope unlocks, read from the routes' own declarations (so it cannot drift from what is enforced). */
function endpointsFor(scope: Scope, routes: RouteInventory): string[] {
  return routes
    .filter(({ auth }) => (scope === 'full' ? auth.kind === 'full' || auth.kind === 'scope' || auth.kind === 'anyPrincipal' : auth.kind === 'scope' && auth.scope === scope))
    .map(({ method, url }) => `${method} ${url}`);
}

export function registerSystemRoutes(root: FastifyInstance, deps: { database: Pick<DatabaseHandle, 'readiness' | 'kind'>; routes: RouteInventory; shutdown: AbortSignal }): void {
  const { routes, shutdown } = deps;
  const app = root.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/healthz',
    { config: { auth: publicRoute }, schema: { operationId: 'getLiveness', tags, summary: 'Liveness', response: { 200: Type.Object({ status: Type.Literal('ok') }, { title: 'Liveness' }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { auth: publicRoute, problems: ['service_unavailable', 'storage_full', 'storage_error'] },
      schema: { operationId: 'getReadiness', tags, summary: 'Readiness: the database answers and the instance is not shutting down', response: { 200: Type.Object({ status: Type.Literal('ready'), database: Type.String() }, { title: 'Readiness' }) } },
    },
    async (_request, reply) => {
      // Shutting down: no longer ready, so the load balancer sends new work elsewhere, but still alive
      // (/healthz keeps answering 200 until the process exits, so nothing restarts it mid-drain).
      // Answered rather than thrown: a planned shutdown is not an error worth a log line per probe.
      if (shutdown.aborted) return sendProblem(reply, new AppError('service_unavailable', 'This instance is shutting down.', {}, { 'retry-after': '5' }));
      // Bounded (READINESS_TIMEOUT_MS) whatever the database does; a fault is answered, not logged per probe.
      const fault = await deps.database.readiness();
      if (fault !== null) return sendProblem(reply, faultError(fault));
      return { status: 'ready' as const, database: deps.database.kind };
    },
  );

  app.get(
    '/scopes',
    {
      config: { auth: publicRoute },
      schema: {
        operationId: 'listScopes',
        tags,
        summary: 'The scope catalogue',
        response: {
          200: Type.Object({
            data: Type.Array(Type.Object({ name: Type.String(), description: Type.String(), endpoints: Type.Array(Type.String()) }, { title: 'Scope' })),
            user_only_endpoints: Type.Array(Type.String({ description: 'Refuse every API key, full included.' })),
          }, { title: 'ScopeCatalogue' }),
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
