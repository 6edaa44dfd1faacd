import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
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
  // 409 for an app being deleted (it gets no credentials any more).
  const deploy = { auth: scope('apps:deploy'), problems: ['conflict'] as const };
  // Bodies are optional on these POSTs: no body means the defaults.
  const deployWithDefaults = { ...deploy, optionalBody: true };

  app.post(
    '/apps/:id/registry-token',
    {
      config: deployWithDefaults,
      schema: {
        operationId: 'createRegistryToken',
        tags,
        summary: "Short-lived push/pull token for the app's image repository (Docker registry token format)",
        params: IdParams,
        body: RegistryTokenBody,
        response: { 200: RegistryToken },
      },
    },
    async (request) => service.registryToken(principalOf(request), request.params.id, request.body?.actions ?? ['pull', 'push']),
  );

  app.post(
    '/apps/:id/dev-credentials',
    {
      config: deployWithDefaults,
      schema: {
        operationId: 'createDevCredentials',
        tags,
        summary: 'Short-lived credentials for developing the app locally (each issuance is recorded)',
        params: IdParams,
        body: DevCredentialsBody,
        response: { 201: DevCredentials },
      },
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
        operationId: 'getDeployScript',
        tags,
        summary: 'A POSIX shell script that builds, pushes and deploys the app using SKALEDATA_API_KEY',
        params: IdParams,
        // Sent as text (reply.type below), never serialized through this schema.
        response: {
          200: {
            description: 'The script, as an attachment named deploy-<app name>.sh.',
            content: { 'text/x-shellscript': { schema: Type.String() } },
          },
        },
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
