import type { FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import { RESOURCE_NOT_ALLOWED, TOO_MANY_INVALID_CREDENTIALS, type RefusalCode } from '../../auth/decision.js';
import type { AuthRequirement } from '../../auth/scopes.js';
import { refusalError, type AppError } from '../../http/errors.js';

/** The route label of a request no route matched (a 404 from the router): never the path it asked for. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Methods kept as they are in the method label; any other (PROPFIND, BREW, …) is `OTHER`. */
export const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const OTHER_METHOD = KNOWN_METHODS.length;

/**
 * How the auth gate answered a request to a route that asks for credentials: `allowed`, its refusal's code
 * (the API's own vocabulary: CONTRACT §2 and §7), `address_throttled` (an address over AUTH_FAILURE_LIMIT,
 * answered 429 rate_limited before any lookup), or `error` (no decision: the check itself failed, e.g. the
 * database was unreachable during a key lookup).
 */
export type AuthOutcome = 'allowed' | RefusalCode | 'address_throttled' | 'error';

const REFUSAL_CODES: ReadonlySet<string> = new Set<RefusalCode>([
  'invalid_request',
  'unauthenticated',
  'invalid_token',
  'user_session_required',
  'insufficient_scope',
  'ip_not_allowed',
  'resource_not_allowed',
  'rate_limited',
]);

/**
 * The scope label of a route's requirement: the scope an API key needs (`full` for a route that names none),
 * `any` when any valid credential will do, `user` when only user sessions may call it.
 */
export function requiredScopeLabel(auth: AuthRequirement): string | null {
  switch (auth.kind) {
    case 'public':
      return null;
    case 'anyPrincipal':
      return 'any';
    case 'userOnly':
      return 'user';
    case 'full':
      return 'full';
    case 'scope':
      return auth.scope;
  }
}

/** Where one observation goes: the series of one label set, made once. */
export interface Observer {
  observe(seconds: number): void;
}

/** Counts of auth outcomes for one required scope, read when metrics are scraped. */
export type OutcomeCounts = Partial<Record<AuthOutcome, number>>;

export interface HttpMetricsSink {
  /** The histogram series of one (route, method, status) label set; asked once per set, then kept. */
  observer(route: string, method: string, status: string): Observer;
  /** The outcome counts of one required scope; asked once per scope label, then kept. */
  outcomes(requiredScope: string): OutcomeCounts;
}

/** Everything kept for one route and method: its scope's outcome counts, and a histogram child per status. */
interface RouteMethod {
  readonly route: string;
  readonly method: string;
  /** Null: a public route (no auth decision to count), or no route at all. */
  readonly outcomes: OutcomeCounts | null;
  readonly byStatus: Map<number, Observer>;
}

function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'PATCH':
      return 4;
    case 'DELETE':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return OTHER_METHOD;
  }
}

// The refusals that need more than their code to be told apart: answered by the same AppError objects
// every time (errors.ts keeps one per refusal), so they are recognised by identity.
const FENCE_REFUSAL: AppError = refusalError(RESOURCE_NOT_ALLOWED);
const ADDRESS_THROTTLED: AppError = refusalError(TOO_MANY_INVALID_CREDENTIALS);

/**
 * What the gate decided, read back from the answer: it sets `request.principal` only when it lets a caller
 * through, and every refusal it answers is a problem whose code names it. A key whose resource list refuses
 * the request after validation (CONTRACT §7: an app on a cluster it is not given) was let through the gate
 * and then refused: that request counts once, as resource_not_allowed.
 */
export function authOutcome(request: Pick<FastifyRequest, 'principal'>, reply: Pick<FastifyReply, 'problem'>): AuthOutcome {
  const problem = reply.problem;
  if (request.principal !== null) return problem === FENCE_REFUSAL ? 'resource_not_allowed' : 'allowed';
  if (problem === null) return 'error';
  if (problem === ADDRESS_THROTTLED) return 'address_throttled';
  return REFUSAL_CODES.has(problem.code) ? (problem.code as RefusalCode) : 'error';
}

/**
 * The onResponse hook behind the HTTP and auth metrics. Per request it costs a map lookup or two, one
 * observation in the series of its (route template, method, status), made once, and one increment of a
 * plain number: label objects are never built, checked or hashed per request. Labels are bounded:
 * the route template (`/clusters/:id`, never the path), a known method or `OTHER`, the status code.
 */
export function httpMetricsHook(sink: HttpMetricsSink): onResponseHookHandler {
  /** Route template → [by method index] what is kept for it. */
  const routes = new Map<string, Array<RouteMethod | undefined>>();

  function routeMethod(request: FastifyRequest): RouteMethod {
    const options = request.routeOptions;
    const route = options.url ?? UNMATCHED_ROUTE;
    let methods = routes.get(route);
    if (methods === undefined) {
      methods = [];
      routes.set(route, methods);
    }
    const index = methodIndex(request.method);
    let found = methods[index];
    if (found === undefined) {
      const auth = options.url === undefined ? undefined : options.config.auth;
      const scope = auth === undefined ? null : requiredScopeLabel(auth);
      found = { route, method: KNOWN_METHODS[index] ?? 'OTHER', outcomes: scope === null ? null : sink.outcomes(scope), byStatus: new Map() };
      methods[index] = found;
    }
    return found;
  }

  return function httpMetrics(request, reply, done) {
    const kept = routeMethod(request);
    const status = reply.statusCode;
    let observer = kept.byStatus.get(status);
    if (observer === undefined) {
      observer = sink.observer(kept.route, kept.method, String(status));
      kept.byStatus.set(status, observer);
    }
    observer.observe(reply.elapsedTime / 1000);
    const outcomes = kept.outcomes;
    if (outcomes !== null) {
      const outcome = authOutcome(request, reply);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    done();
  };
}
