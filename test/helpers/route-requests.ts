import type { LightMyRequestResponse } from 'fastify';
import { newId } from '../../src/lib/ids.js';
import { routeUrl, validBody, type ExpectedRoute, type Ids } from '../integration/expected-routes.js';
import type { Harness } from './harness.js';
import type { Problem } from './problem.js';

/**
 * Requests to the routes of expected-routes.ts, and the comparison of two answers, shared by the suites
 * that check "answers exactly like a missing id" (tenancy, resource restrictions) and the pre-flight.
 */

/** Ids of the right kinds and shape that name nothing stored; fresh for each use, like real ones. */
export function missingIds(): Ids {
  return {
    key: newId('apiKey'),
    cloud: newId('cloud'),
    cluster: newId('cluster'),
    pool: newId('nodePool'),
    pod: 'coredns-0123456789-abcde',
    job: newId('job'),
    app: newId('app'),
    deploy: newId('deploy'),
    webhook: newId('webhook'),
  };
}

/** The problem body with what legitimately differs between two calls (request id, the ids asked for) blanked out. */
export function normalised(response: LightMyRequestResponse, idSets: Ids[]): Record<string, unknown> {
  const { request_id: _requestId, ...rest } = response.json() as Problem;
  let text = JSON.stringify(rest);
  for (const id of idSets.flatMap((ids) => Object.values(ids))) text = text.split(id).join('<id>');
  return JSON.parse(text) as Record<string, unknown>;
}

/** Headers that differ between any two calls (the date) or follow from the body already compared. */
const VOLATILE_HEADERS = new Set(['date', 'content-length']);
export const stableHeaders = (response: LightMyRequestResponse) => Object.entries(response.headers).filter(([name]) => !VOLATILE_HEADERS.has(name)).sort();

/**
 * A request to `route` with its path filled from `ids` and its valid body (validation passes, so only the
 * gate or the lookup can decide the answer).
 */
export function sendRoute(h: Harness, route: ExpectedRoute, ids: Ids, headers: Record<string, string>, remoteAddress?: string): Promise<LightMyRequestResponse> {
  const body = validBody(route, ids);
  return h.inject({
    method: route.method,
    url: routeUrl(route, ids),
    headers: { ...headers, ...body?.headers },
    ...(body === undefined ? {} : { payload: body.payload }),
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}
