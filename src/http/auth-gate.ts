import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler, RouteOptions } from 'fastify';
import type { Authentication, Authenticator } from '../auth/authenticator.js';
import { addressRefusal, decide, RATE_LIMITED, REPEATED_AUTHORIZATION, TOO_MANY_INVALID_CREDENTIALS, USER_SESSION_REQUIRED } from '../auth/decision.js';
import type { Principal, RateLimit, UserPrincipal } from '../auth/principal.js';
import type { HitResult } from '../lib/rate-counters.js';
import { requiredScope, type AuthRequirement, type Scope } from '../auth/scopes.js';
import { refuseRequest } from './error-handler.js';
import { refusalError } from './errors.js';
import { setRateLimitHeaders, type RequestLimits } from './rate-limits.js';
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
 * The requirement in words, for the end of each operation's summary in the rendered reference (the
 * operation list shows summaries, not `x-required-scope`). Derived from the same declaration as
 * `security` and `x-required-scope`, so the three cannot disagree.
 */
export function authSummary(requirement: AuthRequirement): string {
  switch (requirement.kind) {
    case 'public':
      return 'public';
    case 'userOnly':
      return 'user session only';
    case 'anyPrincipal':
      return 'any user session or API key';
    case 'full':
      return 'API keys need full';
    case 'scope':
      return `scope ${requirement.scope}`;
  }
}

/** Every route with its declared requirement, as registered: the source for GET /scopes' endpoint lists. */
export type RouteInventory = Array<{ method: string; url: string; auth: AuthRequirement }>;

const NO_SCOPES: readonly Scope[] = Object.freeze([]);

const scopesOf = (principal: Principal): readonly Scope[] => (principal.type === 'api_key' ? principal.scopes : NO_SCOPES);

/** 429 rate_limited for a key over its limit: Retry-After and the RateLimit fields. */
function refuseRateLimited(request: FastifyRequest, reply: FastifyReply, limit: RateLimit, hit: HitResult): void {
  setRateLimitHeaders(reply, limit, hit);
  reply.header('retry-after', String(hit.resetSeconds));
  refuseRequest(request, reply, refusalError(RATE_LIMITED));
}

/**
 * Steps 1–4 of the decision order (CONTRACT §2) for one route's requirement, bound at registration, with
 * the additions of §7 after step 2: the key's allowed_ips, then its rate limit, then the scope. A
 * callback-style hook: a cached credential is decided without a promise or a microtask, and a refusal
 * is answered here directly (no throw through Fastify's error path). Only a rate-limited key within its
 * budget waits for its counter (a resolved promise in process; a Redis round trip with REDIS_URL); one
 * over it is refused at once until its window ends. A failing check (the
 * database down during a lookup) goes to the error handler.
 */
function gateFor(auth: AuthRequirement, authenticate: Authenticator, limits: RequestLimits | null): onRequestHookHandler {
  function decideScope(request: FastifyRequest, reply: FastifyReply, principal: Principal, done: HookHandlerDoneFunction): void {
    const decision = decide(auth, principal.type, scopesOf(principal));
    if (decision !== 'allowed') {
      refuseRequest(request, reply, refusalError(decision));
      return;
    }
    request.principal = principal;
    done();
  }

  function settle(request: FastifyRequest, reply: FastifyReply, result: Authentication, done: HookHandlerDoneFunction): void {
    if (result.type === 'refusal') {
      // Counted per client address behind the answer: enough of them and the address is throttled.
      if (result.code === 'invalid_token' && limits !== null) limits.noteInvalidCredential(request.ip);
      refuseRequest(request, reply, refusalError(result));
      return;
    }
    // Named in the log before the decision, so a refusal says whose it was.
    tagRequestLog(request.log, result);
    const misplaced = addressRefusal(result, request);
    if (misplaced !== null) {
      refuseRequest(request, reply, refusalError(misplaced));
      return;
    }
    const limit = result.type === 'api_key' && limits !== null ? limits.limitOf(result) : null;
    if (limit === null || limits === null || result.type !== 'api_key') return decideScope(request, reply, result, done);
    // Every request of a limited key counts, whatever the scope decision; the scope refusal keeps its
    // exact words and status (only a key already over its limit hears 429 first).
    const spent = limits.spentKey(result.keyId, limit);
    if (spent !== null) {
      // Over the limit until its window ends: refused at once, with no counter to wait for.
      refuseRateLimited(request, reply, limit, spent);
      return;
    }
    limits.hitKey(result.keyId, limit, (hit) => {
      try {
        if (!hit.allowed) {
          refuseRateLimited(request, reply, limit, hit);
          return;
        }
        if (hit.resetSeconds > 0) setRateLimitHeaders(reply, limit, hit);
        decideScope(request, reply, result, done);
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  return function authGate(request, reply, done) {
    if (repeatsAuthorization(request.raw.rawHeaders)) {
      refuseRequest(request, reply, refusalError(REPEATED_AUTHORIZATION));
      return;
    }
    const authorization = request.headers.authorization;
    // An address that sent too many invalid credentials: refused before any lookup (no database read).
    if (authorization !== undefined && limits !== null) {
      const wait = limits.throttledFor(request);
      if (wait > 0) {
        reply.header('retry-after', String(wait));
        refuseRequest(request, reply, refusalError(TOO_MANY_INVALID_CREDENTIALS));
        return;
      }
    }
    authenticate(authorization, (result) => settle(request, reply, result, done), done);
  };
}

const AUTHORIZATION = 'authorization';

/** More than one `Authorization` header (Node keeps only the first in `headers`; `rawHeaders` has them all). */
export function repeatsAuthorization(rawHeaders: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length !== AUTHORIZATION.length || name.toLowerCase() !== AUTHORIZATION) continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/**
 * Makes every route declare who may call it (failing closed at registration), writes the same
 * declaration into the OpenAPI operation, and enforces it before the body is even parsed.
 */
export function registerAuthGate(
  app: FastifyInstance,
  authenticate: Authenticator,
  options: { thirdPartyPublicPrefixes?: string[]; limits?: RequestLimits } = {},
): RouteInventory {
  app.decorateRequest('principal', null);
  const thirdPartyPublic = options.thirdPartyPublicPrefixes ?? [];
  const limits = options.limits ?? null;
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
    if (auth.kind !== 'public') route.onRequest = [gateFor(auth, authenticate, limits), ...[route.onRequest ?? []].flat()];
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD' && auth.kind !== 'public') inventory.push({ method, url: route.url.replace(/:(\w+)/g, '{$1}'), auth });
    }
  });

  app.decorate('stillAuthorized', (request: FastifyRequest) =>
    new Promise<boolean>((resolve) => {
      const auth = request.routeOptions.config.auth;
      if (!auth || auth.kind === 'public') return resolve(true);
      try {
        authenticate(
          request.headers.authorization,
          (result) => resolve(result.type !== 'refusal' && addressRefusal(result, request) === null && decide(auth, result.type, scopesOf(result)) === 'allowed'),
          () => resolve(false),
        );
      } catch {
        // A check that cannot be made is no longer an authorization.
        resolve(false);
      }
    }),
  );

  return inventory;
}

/** The caller of an authenticated route; the gate has already refused everyone else. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error('principalOf called on a route without authentication');
  return request.principal;
}

/** The signed-in user of a user-only route (the gate has refused every API key already: this narrows the type). */
export function userOf(request: FastifyRequest): UserPrincipal {
  const principal = principalOf(request);
  if (principal.type !== 'user') throw refusalError(USER_SESSION_REQUIRED);
  return principal;
}
