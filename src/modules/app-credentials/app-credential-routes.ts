import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import type { TokenIssuer } from '../signing-keys/token-issuer.js';
import { principalOf } from '../../http/auth-gate.js';
import { IdParams } from '../../http/schemas.js';
import { DevCredentials, DevCredentialsBody, RegistryToken, RegistryTokenBody } from './app-credential-schemas.js';
import { createAppCredentialService, DEV_CREDENTIAL_DEFAULT_TTL_SECONDS } from './app-credential-service.js';
import { plainName } from './deploy-script.js';

const tags = ['App credentials'];

/** Bodies are optional on these POSTs: no body means the defaults. */
const optionalBody = async (request: { body: unknown }) => {
  request.body ??= {};
};

/** Registry tokens, dev credentials and the deploy script: everything `apps:deploy` hands to a pipeline or a developer. */
export function registerAppCredentialRoutes(root: FastifyInstance, deps: ModuleDeps & { issuer: TokenIssuer; config: Pick<Config, 'publicUrl' | 'registryService'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createAppCredentialService({
    db: deps.database.db,
    clock: deps.clock,
    issuer: deps.issuer,
    publicUrl: deps.config.publicUrl,
    registryService: deps.config.registryService,
  });
  const deploy = { auth: scope('apps:deploy') };

  app.post(
    '/apps/:id/registry-token',
    {
      config: deploy,
      schema: {
        tags,
        summary: "Short-lived push/pull token for the app's image repository (Docker registry token format)",
        params: IdParams,
        body: RegistryTokenBody,
        response: { 200: RegistryToken },
      },
      preValidation: optionalBody,
    },
    async (request) => service.registryToken(principalOf(request), request.params.id, request.body?.actions ?? ['pull', 'push']),
  );

  app.post(
    '/apps/:id/dev-credentials',
    {
      config: deploy,
      schema: {
        tags,
        summary: 'Short-lived credentials for developing the app locally (each issuance is recorded)',
        params: IdParams,
        body: DevCredentialsBody,
        response: { 201: DevCredentials },
      },
      preValidation: optionalBody,
    },
    async (request, reply) => {
      const credentials = await service.devCredentials(
        principalOf(request),
        request.params.id,
        request.body?.ttl_seconds ?? DEV_CREDENTIAL_DEFAULT_TTL_SECONDS,
      );
      return reply.code(201).send(credentials);
    },
  );

  app.get(
    '/apps/:id/deploy-script',
    {
      config: deploy,
      schema: {
        tags,
        summary: 'A POSIX shell script that builds, pushes and deploys the app using SKALEDATA_API_KEY',
        params: IdParams,
        produces: ['text/x-shellscript'],
      },
    },
    async (request, reply) => {
      const { filename, script } = await service.deployScript(principalOf(request).accountId, request.params.id);
      return reply
        .type('text/x-shellscript; charset=utf-8')
        .header('content-disposition', `attachment; filename="${plainName(filename)}"`)
        .send(script);
    },
  );
}
