import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { securitySchemes } from './auth-gate.js';

/** Where the rendered reference is served: a plugin we do not write, public by this prefix (auth-gate.ts). */
export const DOCS_PREFIX = '/docs';

/**
 * The OpenAPI 3.1 document, built from the routes' own schemas and auth declarations (the gate writes
 * `security` and `x-required-scope` on each), and the rendered reference. Registered before any route.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SkaleData control-plane API',
        version: '1.0.0',
        description:
          'Clouds, clusters, node pools and jobs, called with Clerk user sessions or scoped API keys. ' +
          'Each operation lists its auth requirement in `security` and `x-required-scope`.',
      },
      components: { securitySchemes: { ...securitySchemes } },
    },
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
}
