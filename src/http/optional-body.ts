import type { FastifyInstance, preValidationHookHandler, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route's body may be left out: no body is read as `{}` (its defaults), then validated as
     * usual. The OpenAPI document marks the request body optional from this same flag (openapi.ts).
     */
    optionalBody?: boolean;
  }
}

/** No body (or an empty JSON one, which server.ts reads as none) becomes `{}` before validation. */
const emptyBodyAsObject: preValidationHookHandler = (request, _reply, done) => {
  request.body ??= {};
  done();
};

/** Gives every route that declares `optionalBody` its default body. Registered before any route. */
export function registerOptionalBodies(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.config?.optionalBody !== true) return;
    route.preValidation = [emptyBodyAsObject, ...[route.preValidation ?? []].flat()];
  });
}
