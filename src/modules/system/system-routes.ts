import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppDeps } from '../../app-context.js';
import { SCOPE_DESCRIPTIONS, SCOPES, publicRoute } from '../../auth/scopes.js';
import { AppError } from '../../http/errors.js';

const tags = ['System'];

export function registerSystemRoutes(root: FastifyInstance, deps: AppDeps): void {
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
        response: { 200: Type.Object({ data: Type.Array(Type.Object({ name: Type.String(), description: Type.String() })) }) },
      },
    },
    async () => ({ data: SCOPES.map((name) => ({ name, description: SCOPE_DESCRIPTIONS[name] })) }),
  );

  app.get(
    '/openapi.json',
    { config: { auth: publicRoute }, schema: { hide: true } },
    async () => root.swagger(),
  );
}
