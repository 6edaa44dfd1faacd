import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler, RouteOptions } from 'fastify';
import type { Authentication, Authenticator } from '../auth/authenticator.js';
import { REALM } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import { decide, requiredScope, type AuthRequirement, type Decision, type Scope } from '../auth/scopes.js';
import { refuseRequest } from './error-handler.js';
import { AppError } from './errors.js';
import { tagRequestLog } from './request-log.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Required on every route: the server will not start without it. */
    auth?: AuthRequirement;
    /** Extra words appended to validation messages for a top-level field (e.g. the valid scopes). */
    validationHints?: Record<string, string>;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /**
     * Runs the route's authentication and scope decision again for a request still in flight. Long
     * responses (followed log streams) call it periodically so a revoked key stops reading.
     */
    stillAuthorized(request: FastifyRequest): Promise<boolean>;
  }
}

export class MissingAuthDeclarationError extends Error {
  constructor(method: string, url: string) {
    super(`Route ${method} ${url} declares no auth requirement; every route must (public, anyPrincipal, scope, fullOnly or userOnly).`);
    this.name = 'MissingAuthDeclarationError';
  }
}

const SECURITY_SCHEMES = {
  userSession: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Clerk session token' },
  apiKey: { type: 'http', scheme: 'bearer', bearerFormat: 'skd_…', description: 'SkaleData API key' },
} as const;

export const securitySchemes = SECURITY_SCHEMES;

function openApiSecurity(requirement: AuthRequirement): Array<Record<string, string[]>> {
  switch (requirement.kind) {
    case 'public':
      return [];
    case 'userOnly':
      return [{ userSession: [] }];
    case 'anyPrincipal':
      return [{ userSession: [] }, { apiKey: [] }];
    case 'full':
      return [{ userSession: [] }, { apiKey: ['full'] }];
    case 'scope':
      return [{ userSession: [] }, { apiKey: [requirement.scope] }];
  }
}

/**
 * Makes every route declare who may call it (failing closed at registration), writes the same
 * declaration into the OpenAPI operation, and enforces it before the body is even parsed.
 */
/** Every route with its declared requirement, as registered: the source for GET /scopes' endpoint lists. */
export type RouteInventory = Array<{ method: string; url: string; auth: AuthRequirement }>;

const NO_SCOPES: readonly Scope[] = Object.freeze([]);

function refusal(decision: Exclude<Decision, { allowed: true }>): AppError {
  if (decision.code === 'user_session_required') return new AppError('user_session_required', decision.detail);
  return new AppError('insufficient_scope', decision.detail, { required_scope: decision.scope }, {
    'www-authenticate': `${REALM}, error="insufficient_scope", scope="${decision.scope}"`,
  });
}

/**
 * Steps 1–4 of the decision order (CONTRACT §2) for one route's requirement, resolved at registration.
 * A callback-style hook: a cached credential is decided without a promise or a microtask, and a refusal
 * is answered here directly (no throw through Fastify's error path). Anything other than a refusal (the
 * database failing during a lookup) goes to the error handler.
 */
function gateFor(auth: AuthRequirement, authenticate: Authenticator): onRequestHookHandler {
  // A route refuses only one way (its requirement fixes the code and the scope): built once, on first use.
  let refused: AppError | null = null;

  function admit(request: FastifyRequest, reply: FastifyReply, principal: Principal, done: HookHandlerDoneFunction): void {
    // Named in the log before the decision, so a refusal says whose it was.
    tagRequestLog(request.log, principal);
    const decision = decide(auth, principal.type, principal.type === 'api_key' ? principal.scopes : NO_SCOPES);
    if (!decision.allowed) {
      refuseRequest(request, reply, (refused ??= refusal(decision)));
      return;
    }
    request.principal = principal;
    done();
  }

  function settle(request: FastifyRequest, reply: FastifyReply, result: Authentication, done: HookHandlerDoneFunction): void {
    if (result instanceof AppError) refuseRequest(request, reply, result);
    else admit(request, reply, result, done);
  }

  // Anything thrown synchronously (a bug, not a refusal) Fastify's hook runner hands to the error handler.
  return function authGate(request, reply, done) {
    const result = authenticate(request.headers.authorization);
    if (result instanceof Promise) {
      // A rejection is the check failing (the database), not a refusal: the error handler answers it.
      result.then(
        (settled) => settle(request, reply, settled, done),
        (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
      );
    } else {
      settle(request, reply, result, done);
    }
  };
}

export function registerAuthGate(
  app: FastifyInstance,
  authenticate: Authenticator,
  options: { thirdPartyPublicPrefixes?: string[] } = {},
): RouteInventory {
  app.decorateRequest('principal', null);
  const thirdPartyPublic = options.thirdPartyPublicPrefixes ?? [];
  const inventory: RouteInventory = [];

  app.addHook('onRoute', (route: RouteOptions) => {
    // Plugins we do not write (the rendered docs) cannot declare auth; they are public by this list alone.
    if (!route.config?.auth && thirdPartyPublic.some((prefix) => route.url === prefix || route.url.startsWith(`${prefix}/`))) {
      route.config = { ...route.config, auth: { kind: 'public' } };
    }
    const auth = route.config?.auth;
    if (!auth) throw new MissingAuthDeclarationError(String(route.method), route.url);
    const schema = (route.schema ??= {}) as Record<string, unknown>;
    schema.security = openApiSecurity(auth);
    schema['x-auth'] = auth.kind;
    const scopeName = requiredScope(auth);
    if (scopeName !== null) schema['x-required-scope'] = scopeName;
    // The gate runs first among the route's own onRequest hooks: before content-type parsing and
    // validation, so steps 1–4 always come first. Bound to the route's requirement here, once.
    if (auth.kind !== 'public') route.onRequest = [gateFor(auth, authenticate), ...[route.onRequest ?? []].flat()];
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD' && auth.kind !== 'public') inventory.push({ method, url: route.url.replace(/:(\w+)/g, '{$1}'), auth });
    }
  });

  app.decorate('stillAuthorized', async (request: FastifyRequest) => {
    const auth = request.routeOptions.config.auth;
    if (!auth || auth.kind === 'public') return true;
    try {
      const principal = await authenticate(request.headers.authorization);
      if (principal instanceof AppError) return false;
      return decide(auth, principal.type, principal.type === 'api_key' ? principal.scopes : NO_SCOPES).allowed;
    } catch {
      return false;
    }
  });

  return inventory;
}

/** The caller of an authenticated route; the gate has already refused everyone else. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error('principalOf called on a route without authentication');
  return request.principal;
}
