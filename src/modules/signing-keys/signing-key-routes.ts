import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { publicRoute } from '../../auth/scopes.js';
import { SIGNING_ALGORITHM, type SigningKeyStore } from './signing-key-store.js';

const Jwk = Type.Object({
  kid: Type.String(),
  kty: Type.String(),
  alg: Type.Literal(SIGNING_ALGORITHM),
  use: Type.Literal('sig'),
  crv: Type.String(),
  x: Type.String(),
  y: Type.String(),
}, { title: 'Jwk' });

/**
 * The public half of the keys that sign the tokens this API issues (registry, data-plane, dev
 * credentials), for whoever verifies them. The store is shared with the token issuer (buildApp makes one
 * per app), so both read one key cache.
 */
export function registerSigningKeyRoutes(root: FastifyInstance, deps: { signingKeys: SigningKeyStore }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const keys = deps.signingKeys;

  app.get(
    '/.well-known/jwks.json',
    {
      config: { auth: publicRoute, problems: ['service_unavailable', 'storage_error'] },
      schema: {
        operationId: 'getJwks',
        tags: ['System'],
        summary: 'Public keys that verify the tokens this API issues (registry, data-plane, dev credentials)',
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }, { title: 'JwkSet' }) },
      },
    },
    async () => ({ keys: await keys.publishedKeys() }),
  );
}
