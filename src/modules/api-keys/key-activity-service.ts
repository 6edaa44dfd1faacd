import { parseStoredScopes, requiredScope, SCOPES, type Scope } from '../../auth/scopes.js';
import type { Db } from '../../db/database.js';
import type { KeyActivityTable } from '../../db/schema.js';
import { notFound } from '../../http/errors.js';
import type { RouteInventory } from '../../http/auth-gate.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import type { ApiKeyStore } from './api-key-store.js';
import { ACTIVITY_RETENTION_MS } from './key-activity.js';
import { createKeyActivityRepo, type ActivityKind, type ActivityTotal } from './key-activity-repo.js';

const DAY_MS = 24 * 3600 * 1000;

/** The scope an API key needs for a route as recorded (`GET /clusters/{id}`), or null when none does. */
export type ScopeOfRoute = (method: string, route: string) => Scope | null;

/**
 * From the routes' own declarations (the gate's inventory). HEAD is answered by its GET route. A route
 * the inventory does not know (one since removed) counts as needing `full`: a suggestion may be too wide,
 * never too narrow.
 */
export function scopeOfRoute(inventory: RouteInventory): ScopeOfRoute {
  let byRoute: Map<string, Scope | null> | null = null;
  return (method, route) => {
    // Read at the first question, when every module has registered its routes.
    byRoute ??= new Map(inventory.map((entry) => [`${entry.method} ${entry.url}`, requiredScope(entry.auth)]));
    const found = byRoute.get(`${method === 'HEAD' ? 'GET' : method} ${route}`);
    return found === undefined ? 'full' : found;
  };
}

interface Counts {
  requests: number;
  succeeded: number;
  refused: number;
}

const add = (counts: Counts, total: ActivityTotal): void => {
  counts.requests += total.count;
  if (total.status < 400) counts.succeeded += total.count;
  if (total.kind === 'refused') counts.refused += total.count;
};

const byCatalogue = (a: Scope, b: Scope): number => SCOPES.indexOf(a) - SCOPES.indexOf(b);

/**
 * Counts per route and per scope, the key's scopes that let nothing through, and the least privilege:
 * the union of the scopes the successful requests needed (`full` alone if one of them needed it), with
 * the routes that needed each. A held scope is used when it let a successful request through: `full`
 * by any request that needed a scope, another scope by a request that needed that very scope.
 */
export function summarizeUsage(totals: readonly ActivityTotal[], scopeOf: ScopeOfRoute, held: readonly Scope[]) {
  const routes = new Map<string, Counts & { method: string; route: string; required_scope: Scope | null }>();
  const scopes = new Map<Scope, Counts>();
  const needed = new Map<Scope, Set<string>>();
  let requests = 0;
  for (const total of totals) {
    requests += total.count;
    const scope = scopeOf(total.method, total.route);
    const name = `${total.method} ${total.route}`;
    let route = routes.get(name);
    if (route === undefined) {
      route = { method: total.method, route: total.route, required_scope: scope, requests: 0, succeeded: 0, refused: 0 };
      routes.set(name, route);
    }
    add(route, total);
    if (scope === null) continue;
    let counts = scopes.get(scope);
    if (counts === undefined) {
      counts = { requests: 0, succeeded: 0, refused: 0 };
      scopes.set(scope, counts);
    }
    add(counts, total);
    if (total.status < 400) {
      const evidence = needed.get(scope) ?? new Set<string>();
      evidence.add(name);
      needed.set(scope, evidence);
    }
  }
  const suggested = needed.has('full') ? (['full'] as Scope[]) : [...needed.keys()].sort(byCatalogue);
  const used = (scope: Scope) => (scope === 'full' ? needed.size > 0 : needed.has(scope));
  return {
    requests,
    routes: [...routes.values()].sort((a, b) => b.requests - a.requests || (a.route < b.route ? -1 : a.route > b.route ? 1 : a.method < b.method ? -1 : 1)),
    scopes: [...scopes].sort(([a], [b]) => byCatalogue(a, b)).map(([scope, counts]) => ({ scope, ...counts })),
    scopes_never_used: held.filter((scope) => !used(scope)),
    suggested_scopes: suggested,
    evidence: suggested.map((scope) => ({ scope, routes: [...(needed.get(scope) ?? [])].sort() })),
  };
}

function presentActivity(row: KeyActivityTable) {
  return {
    id: row.id,
    at: row.at,
    kind: row.kind,
    method: row.method,
    route: row.route,
    status: row.status,
    code: row.code,
    missing_scope: row.missing_scope,
    client_ip: row.client_ip,
    user_agent: row.user_agent,
    count: row.count,
    // A roll-up: of reads, or of the refusals and writes past a key's single rows of that minute.
    minute: row.kind === 'reads' || row.client_ip === null ? row.at : null,
  };
}

export function createKeyActivityService(deps: { keys: ApiKeyStore; clock: Clock; database: { db: Db }; routes: RouteInventory }) {
  const repo = createKeyActivityRepo(deps.database.db);
  const scopeOf = scopeOfRoute(deps.routes);

  async function mustGet(accountId: string, id: string) {
    const row = await deps.keys.get(accountId, id);
    if (!row) throw notFound('API key', id);
    return row;
  }

  return {
    /** The key's activity of the last 30 days, newest first. */
    async activity(accountId: string, id: string, query: { limit?: number | undefined; cursor?: string | undefined; kind?: ActivityKind | undefined }) {
      await mustGet(accountId, id);
      const page = pageRequest(query);
      const since = deps.clock.now().getTime() - ACTIVITY_RETENTION_MS;
      return toPage(await repo.page(id, since, page, query.kind), page, presentActivity);
    },

    async usage(accountId: string, id: string, days: number) {
      const key = await mustGet(accountId, id);
      const since = deps.clock.now().getTime() - days * DAY_MS;
      const totals = await repo.totals(id, since);
      return { key_id: id, days, since: new Date(since).toISOString(), ...summarizeUsage(totals, scopeOf, parseStoredScopes(key.scopes)) };
    },
  };
}
