import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { Refusal } from '../../auth/decision.js';
import { AppError, refusalError, renderProblem } from '../../http/errors.js';
import { COMMON_HEADERS } from '../../http/response-headers.js';
import { newRequestId } from '../../http/server.js';
import type { AppMetrics } from './metrics-registry.js';
import { METRICS_PATH, renderFailed } from './metrics-routes.js';

/** The listener of METRICS_PORT: built with the app, listening only when main.ts (or a test) says so. */
export interface MetricsListener {
  /** Starts listening on METRICS_HOST:METRICS_PORT; resolves to its address (http://host:port). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface MetricsListenerDeps {
  metrics: AppMetrics;
  host: string;
  port: number;
  /** The scrape's refusal (METRICS_TOKEN set and not presented), or null to serve it. */
  refusal(authorization: string | undefined): Refusal | null;
  log: FastifyBaseLogger;
}

/** Scrapes are small and quick: a client that takes longer than this to send its request is cut off. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A small HTTP server of its own for GET /metrics, so Prometheus can reach it on an address the API's
 * clients do not (METRICS_HOST defaults to 127.0.0.1). It serves that one path; anything else answers 404,
 * and its errors are the API's problem+json, in the same words.
 */
export function createMetricsListener(deps: MetricsListenerDeps): MetricsListener {
  function answer(response: ServerResponse, error: AppError): void {
    response.writeHead(error.status, { ...COMMON_HEADERS, ...error.headers, 'content-type': 'application/problem+json' });
    response.end(renderProblem(error, newRequestId()));
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    const method = request.method ?? 'GET';
    if (path !== METRICS_PATH || (method !== 'GET' && method !== 'HEAD')) {
      return answer(response, new AppError('not_found', `No route ${method.slice(0, 20)} ${path.slice(0, 200)}; this listener serves GET ${METRICS_PATH} only.`));
    }
    const refused = deps.refusal(request.headers.authorization);
    if (refused !== null) return answer(response, refusalError(refused));
    let text: string;
    try {
      text = await deps.metrics.render();
    } catch (error) {
      deps.log.error({ err: error }, 'metrics could not be collected');
      return answer(response, renderFailed());
    }
    response.writeHead(200, { ...COMMON_HEADERS, 'content-type': deps.metrics.contentType, 'content-length': Buffer.byteLength(text) });
    response.end(method === 'HEAD' ? undefined : text);
  }

  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS }, (request, response) => {
    // A scrape has no body; whatever a client sends is not read (the answer does not depend on it).
    request.resume();
    handle(request, response).catch((error: unknown) => {
      deps.log.error({ err: error }, 'metrics listener failed');
      if (!response.headersSent) answer(response, renderFailed());
      else response.destroy();
    });
  });
  let listening = false;

  return {
    listen() {
      return new Promise<string>((resolve, reject) => {
        server.once('error', reject);
        server.listen(deps.port, deps.host, () => {
          server.off('error', reject);
          listening = true;
          const { address, port } = server.address() as AddressInfo;
          resolve(`http://${address.includes(':') ? `[${address}]` : address}:${port}`);
        });
      });
    },
    close() {
      if (!listening) return Promise.resolve();
      listening = false;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its connections open between scrapes: they would hold close() for as long.
        server.closeAllConnections();
      });
    },
  };
}
