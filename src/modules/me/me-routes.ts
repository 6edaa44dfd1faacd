import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { anyPrincipal } from '../../auth/scopes.js';
import { principalOf } from '../../http/auth-gate.js';
import { Nullable } from '../../http/schemas.js';

const Me = Type.Object({
  type: Type.Union([Type.Literal('user'), Type.Literal('api_key')]),
  user_id: Type.String({ description: 'The signed-in user, or the user who created the key.' }),
  account_id: Type.String(),
  org_id: Nullable(Type.String()),
  email: Nullable(Type.String()),
  api_key: Nullable(Type.Object({ id: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()) })),
}, { title: 'Me' });

export function registerMeRoutes(root: FastifyInstance): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
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
        api_key: { id: principal.keyId, name: principal.keyName, scopes: principal.scopes },
      };
    },
  );
}
