import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler, preHandlerHookHandler, RouteOptions } from 'fastify';
import type { Authentication, Authenticator } from '../auth/authenticator.js';
import type { CanaryReporter, CanaryTrip } from '../auth/canary.js';
import { addressRefusal, decide, heldScopes, RATE_LIMITED, REPEATED_AUTHORIZATION, RESOURCE_NOT_ALLOWED, TOO_MANY_INVALID_CREDENTIALS, USER_SESSION_REQUIRED, type Refusal } from '../auth/decision.js';
import { fenceOf, type Principal, type RateLimit, type UserPrincipal } from '../auth/principal.js';
import { checkFence, fenceOutcomeAtOnce, fenceRuleFor, type FenceLookups, type FenceOutcome, type FenceRule } from '../auth/resource-fence.js';
import { requiredScope, type AuthRequirement, type Scope } from '../auth/scopes.js';
import type { HitResult } from '../lib/rate-counters.js';
import { refuseRequest } from './error-handler.js';
import { notFound, refusalError } from './errors.js';
import { setRateLimitHeaders, type RequestLimits } from './rate-limits.js';
import { tagRequestLog } from './request-log.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Required on every route: the server will not start without it. */
    auth?: AuthRequirement;
    /** Extra words appended to validation messages for a top-level field (e.g. the valid scopes). */
    validationHints?: Record<string, string>;
    /** The gate lets a key through from any address: the route reports allowed_ips instead (GET /me/check only). */
    reportsAddress?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** Whose valid credential this is, set as soon as it is recognised: also on requests then refused (key activity). */
    caller: Principal | null;
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

/**
 * Every route with its declared requirement and, where API keys may call it, its resource rule, as
 * registered: the source for GET /scopes' endpoint lists and for the pre-flight of GET /me/check.
 */
export type RouteInventory = Array<{ method: string; url: string; auth: AuthRequirement; fence: FenceRule | null }>;

const NO_SCOPES: readonly Scope[] = Object.freeze([]);

/** The scopes the caller holds now (a lapsed `scope_expires_at` scope is no longer held). */
export const scopesOf = (principal: Principal, now: () => number): readonly Scope[] => (principal.type === 'api_key' ? heldScopes(principal, now) : NO_SCOPES);

/**
 * What refuses a recognised caller, in the order the gate applies it (CONTRACT §2 and §7): the address
 * (allowed_ips) after step 2, then steps 3–4 on the scopes held now. Null: it may go on (to the resource
 * fence's per-resource checks, which need the path and body). The gate, followed streams and GET
 * /me/check all decide here.
 * `from` null: the address is not checked (the gate checked it before the rate limit; GET /me/check
 * reports it instead of refusing).
 */
export function refusalAfterCredential(
  auth: AuthRequirement,
  principal: Principal,
  from: { readonly ip: string } | null,
  now: () => number,
  fence: FenceRule | null = null,
): Refusal | null {
  const misplaced = from === null ? null : addressRefusal(principal, from);
  if (misplaced !== null) return misplaced;
  const decision = decide(auth, principal.type, scopesOf(principal, now));
  if (decision !== 'allowed') return decision;
  // What the whole account shares is out of a fenced key's reach whatever the request says: refused here,
  // before the body is read (the rules that need an id or the body run after validation: fenceFor).
  return fence?.kind === 'whole-account' && fenceOf(principal) !== null ? RESOURCE_NOT_ALLOWED : null;
}

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
function gateFor(
  auth: AuthRequirement,
  authenticate: Authenticator,
  now: () => number,
  checksAddress: boolean,
  fence: FenceRule | null,
  limits: RequestLimits | null,
  canaries: CanaryReporter | null,
): onRequestHookHandler {
  /** After the address and the rate limit: the scope held now, then the account-wide fence rule. */
  function decideScope(request: FastifyRequest, reply: FastifyReply, principal: Principal, done: HookHandlerDoneFunction): void {
    const refused = refusalAfterCredential(auth, principal, null, now, fence);
    if (refused !== null) {
      refuseRequest(request, reply, refusalError(refused));
      return;
    }
    request.principal = principal;
    done();
  }

  function settle(request: FastifyRequest, reply: FastifyReply, result: Authentication, done: HookHandlerDoneFunction, canary: CanaryTrip | undefined): void {
    if (result.type === 'refusal') {
      // Counted per client address behind the answer: enough of them and the address is throttled.
      if (result.code === 'invalid_token' && limits !== null) limits.noteInvalidCredential(request.ip);
      refuseRequest(request, reply, refusalError(result));
      // A canary was answered as an unknown key (the same refusal); only then is its use noted.
      if (canary !== undefined) canaries?.trip(canary, request);
      return;
    }
    // Named in the log before the decision, so a refusal says whose it was.
    tagRequestLog(request.log, result);
    request.caller = result;
    const misplaced = checksAddress ? addressRefusal(result, request) : null;
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
    authenticate(authorization, (result, canary) => settle(request, reply, result, done, canary), done);
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

export interface AuthGateOptions {
  /** Path prefixes of plugins we do not write (the rendered docs): public by this list alone. */
  thirdPartyPublicPrefixes?: string[];
  /** The app's clock in ms: when a `scope_expires_at` scope lapses. */
  now: () => number;
  /** Where a fence check finds a resource's owner (CONTRACT §7 `resources`). */
  fence: FenceLookups;
  /** Per-key rate limits and the invalid-credential throttle (CONTRACT §7); none when absent. */
  limits?: RequestLimits;
  /** Where uses of canary keys are reported (CONTRACT §7). */
  canaries?: CanaryReporter;
}

/**
 * A fenced key on a route whose resource it may not see answers 404 as for a missing id (the route's own
 * words); a new app on a cluster it is not given is refused. Runs after validation, where the handler's
 * own "no such id" would come, so both answers are alike in every respect. Callback-style: every other
 * caller goes on at once, without a promise.
 */
function fenceFor(rule: FenceRule, lookups: FenceLookups): preHandlerHookHandler {
  return function resourceFence(request, reply, done) {
    const principal = request.principal;
    if (principal === null || principal.type !== 'api_key' || principal.resources === null) return done();
    const params = request.params as Record<string, string | undefined>;
    const body = request.body as { cluster_id?: unknown } | null | undefined;
    const target = { accountId: principal.accountId, params, clusterId: typeof body?.cluster_id === 'string' ? body.cluster_id : undefined };
    const settleFence = (outcome: FenceOutcome) => {
      if (outcome === 'refused') return done(refusalError(RESOURCE_NOT_ALLOWED));
      if (outcome === 'hidden' && 'param' in rule) return done(notFound(rule.kind, params[rule.param] ?? ''));
      done();
    };
    // A cluster's own routes and a new app need no lookup: decided at once, without a promise.
    const atOnce = fenceOutcomeAtOnce(principal.resources, rule, target);
    if (atOnce !== null) return settleFence(atOnce);
    checkFence(principal.resources, rule, target, lookups).then(settleFence, done);
  };
}

/**
 * Makes every route declare who may call it (failing closed at registration), writes the same
 * declaration into the OpenAPI operation, and enforces it before the body is even parsed. Every route an
 * API key may call also gets its resource rule (auth/resource-fence.ts), or registration fails.
 */
export function registerAuthGate(app: FastifyInstance, authenticate: Authenticator, options: AuthGateOptions): RouteInventory {
  app.decorateRequest('principal', null);
  app.decorateRequest('caller', null);
  const thirdPartyPublic = options.thirdPartyPublicPrefixes ?? [];
  const { now } = options;
  const limits = options.limits ?? null;
  const canaries = options.canaries ?? null;
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
    const keysMayCall = auth.kind !== 'public' && auth.kind !== 'userOnly';
    const methods = [route.method].flat().filter((method) => method !== 'HEAD');
    const fence = keysMayCall ? fenceRuleFor(methods[0] ?? 'GET', route.url) : null;
    if (auth.kind !== 'public') route.onRequest = [gateFor(auth, authenticate, now, route.config?.reportsAddress !== true, fence, limits, canaries), ...[route.onRequest ?? []].flat()];
    if (fence !== null && ('param' in fence || fence.kind === 'new-app')) route.preHandler = [fenceFor(fence, options.fence), ...[route.preHandler ?? []].flat()];
    if (fence?.kind === 'whole-account' || fence?.kind === 'new-app') {
      route.config = { ...route.config, problems: [...(route.config?.problems ?? []), 'resource_not_allowed'] };
    }
    for (const method of methods) inventory.push({ method, url: route.url.replace(/:(\w+)/g, '{$1}'), auth, fence });
  });

  app.decorate('stillAuthorized', (request: FastifyRequest) =>
    new Promise<boolean>((resolve) => {
      const auth = request.routeOptions.config.auth;
      if (!auth || auth.kind === 'public') return resolve(true);
      try {
        authenticate(
          request.headers.authorization,
          (result) => {
            if (result.type === 'refusal' || refusalAfterCredential(auth, result, request, now) !== null) return resolve(false);
            // A resource taken out of the key's list stops what it was reading too.
            const fence = fenceOf(result);
            if (fence === null || auth.kind === 'userOnly') return resolve(true);
            const rule = fenceRuleFor(request.method, request.routeOptions.url ?? request.url);
            const params = request.params as Record<string, string | undefined>;
            checkFence(fence, rule, { accountId: result.accountId, params }, options.fence).then(
              (outcome) => resolve(outcome === 'through'),
              () => resolve(false),
            );
          },
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
