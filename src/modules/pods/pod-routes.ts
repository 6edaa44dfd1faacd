import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { scope } from '../../auth/scopes.js';
import { principalOf } from '../../http/auth-gate.js';
import type { ModuleDeps } from '../module.js';
import { ClusterParams, LogQuery, PodListQuery, PodPage, PodParams } from './pod-schemas.js';
import { createPodService } from './pod-service.js';

const tags = ['Pods'];
/** A followed log stream ends after this long; clients reconnect with ?tail to continue. */
const MAX_FOLLOW_MS = 10 * 60_000;
/** How often a followed stream re-checks its caller's credentials (the revocation bound for streams). */
const REAUTH_INTERVAL_MS = 2_000;

export function registerPodRoutes(root: FastifyInstance, deps: ModuleDeps & { shutdown: AbortSignal }): void {
  const { shutdown } = deps;
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createPodService(deps);

  app.get(
    '/clusters/:id/pods',
    {
      config: { auth: scope('clusters:read'), problems: ['conflict'] },
      schema: {
        operationId: 'listPods',
        tags,
        summary: "List the cluster's pods (by name)",
        params: ClusterParams,
        querystring: PodListQuery,
        response: { 200: PodPage },
      },
    },
    async (request) => service.list(principalOf(request).accountId, request.params.id, request.query),
  );

  app.get(
    '/clusters/:id/pods/:pod/logs',
    {
      config: { auth: scope('clusters:read'), problems: ['conflict'] },
      schema: {
        operationId: 'getPodLogs',
        tags,
        summary: 'Pod logs as text/plain; with follow=true the response streams',
        params: PodParams,
        querystring: LogQuery,
        // Streamed as text (reply.type below), never serialized through this schema.
        response: {
          200: {
            description: 'Log lines, one per line; with follow=true the response stays open and new lines follow.',
            // A string in the document; to the type provider, the stream the handler sends.
            content: { 'text/plain': { schema: Type.Unsafe<Readable>({ type: 'string' }) } },
          },
        },
      },
    },
    async (request, reply) => {
      const controller = new AbortController();
      const follow = request.query.follow ?? false;
      const lines = await service.logs(principalOf(request).accountId, request.params.id, request.params.pod, { tail: request.query.tail ?? 100, follow, signal: controller.signal });
      const limit = setTimeout(() => controller.abort(), MAX_FOLLOW_MS);
      // A followed stream outlives the check made when it opened: re-check the credentials every few
      // seconds, so a revoked or expired key (or session) stops reading within that bound.
      const recheck = follow
        ? setInterval(() => {
            root
              .stillAuthorized(request)
              .then((ok) => {
                if (!ok) controller.abort();
              })
              .catch(() => controller.abort());
          }, REAUTH_INTERVAL_MS)
        : null;
      // A followed stream never ends by itself: when the server starts closing, it ends cleanly (the
      // client sees the response finish and reconnects, with ?tail, to another instance) rather than
      // holding the drain open until it is cut.
      const stop = () => controller.abort();
      const cleanup = () => {
        clearTimeout(limit);
        if (recheck) clearInterval(recheck);
        shutdown.removeEventListener('abort', stop);
      };
      controller.signal.addEventListener('abort', cleanup);
      if (follow && shutdown.aborted) controller.abort();
      else if (follow) shutdown.addEventListener('abort', stop, { once: true });
      request.raw.on('close', () => controller.abort());
      const stream = Readable.from(
        (async function* () {
          try {
            for await (const line of lines) yield `${line}\n`;
          } finally {
            cleanup();
          }
        })(),
      );
      return reply.type('text/plain; charset=utf-8').send(stream);
    },
  );
}
