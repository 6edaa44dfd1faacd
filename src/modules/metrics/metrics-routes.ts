import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { bearerToken } from '../../auth/authenticator.js';
import { INVALID_TOKEN, UNAUTHENTICATED, type Refusal } from '../../auth/decision.js';
import { publicRoute } from '../../auth/scopes.js';
import { refuseRequest } from '../../http/error-handler.js';
import { AppError, refusalError } from '../../http/errors.js';
import type { AppMetrics } from './metrics-registry.js';

export const METRICS_PATH = '/metrics';

/**
 * Who may scrape: with METRICS_TOKEN, only `Authorization: Bearer <METRICS_TOKEN>` (compared in constant
 * time, as digests of equal length); without it (METRICS_PORT alone), anyone who reaches the listener.
 * Refusals are the API's own: 401 unauthenticated without a bearer token, 401 invalid_token with another.
 */
export function scrapeCheck(token: string | null): (authorization: string | undefined) => Refusal | null {
  if (token === null) return () => null;
  const expected = createHash('sha256').update(token).digest();
  return (authorization) => {
    const presented = authorization === undefined ? null : bearerToken(authorization);
    if (presented === null) return UNAUTHENTICATED;
    return timingSafeEqual(createHash('sha256').update(presented).digest(), expected) ? null : INVALID_TOKEN;
  };
}

export const renderFailed = () => new AppError('internal', 'The metrics could not be collected. Quote the request_id if you contact support.');

/**
 * GET /metrics on the API port (METRICS_TOKEN set, no METRICS_PORT). Public to the auth gate, like the
 * signature-checked endpoints: its one credential is the metrics token, checked here, not an API key or a
 * session. Hidden from the OpenAPI document: it is for the operator's Prometheus, not for API clients.
 */
export function registerMetricsRoute(root: FastifyInstance, deps: { metrics: AppMetrics; token: string }): void {
  const refusal = scrapeCheck(deps.token);
  root.get(METRICS_PATH, { config: { auth: publicRoute }, schema: { hide: true } }, async (request, reply) => {
    const refused = refusal(request.headers.authorization);
    if (refused !== null) return refuseRequest(request, reply, refusalError(refused));
    let text: string;
    try {
      text = await deps.metrics.render();
    } catch (error) {
      request.log.error({ err: error }, 'metrics could not be collected');
      throw renderFailed();
    }
    return reply.header('cache-control', 'no-store').type(deps.metrics.contentType).send(text);
  });
}
