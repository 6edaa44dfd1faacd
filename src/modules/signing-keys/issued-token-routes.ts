import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppDeps } from '../../app-context.js';
import { publicRoute } from '../../auth/scopes.js';
import { createSigningKeyStore, SIGNING_ALGORITHM } from './signing-key-store.js';
import { createTokenIssuer } from './token-issuer.js';
import { registerAppCredentialRoutes } from '../app-credentials/app-credential-routes.js';
import { registerDataPlaneRoutes } from '../data-plane/data-plane-routes.js';
import { registerTerminalRoutes } from '../terminal/terminal-routes.js';

const Jwk = Type.Object({
  kid: Type.String(),
  kty: Type.String(),
  alg: Type.Literal(SIGNING_ALGORITHM),
  use: Type.Literal('sig'),
  crv: Type.String(),
  x: Type.String(),
  y: Type.String(),
});

/**
 * The tokens this API issues and what uses them: the JWKS that verifies them, registry tokens, dev
 * credentials, the deploy script, terminal sessions and the data-plane handoff. One signing-key store
 * and issuer per app instance, so its key cache is shared by all of them.
 */
export function registerIssuedTokenRoutes(root: FastifyInstance, deps: AppDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const keys = createSigningKeyStore({ db: deps.database.db, clock: deps.clock, encryptionKey: deps.encryptionKey });
  const issuer = createTokenIssuer({ keys, clock: deps.clock, issuer: deps.config.publicUrl });

  app.get(
    '/.well-known/jwks.json',
    {
      config: { auth: publicRoute },
      schema: {
        tags: ['System'],
        summary: 'Public keys that verify the tokens this API issues (registry, data-plane, dev credentials)',
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
      },
    },
    async () => ({ keys: await keys.publishedKeys() }),
  );

  registerAppCredentialRoutes(root, deps, issuer);
  registerTerminalRoutes(root, deps);
  registerDataPlaneRoutes(root, deps, issuer);
}
