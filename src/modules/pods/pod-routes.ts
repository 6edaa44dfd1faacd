import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { principalOf } from '../../http/auth-gate.js';
import { AppError, conflict, notFound } from '../../http/errors.js';
import { IdParam, Timestamp } from '../../http/schemas.js';
import { createClusterRepo, loadClusterSpec } from '../clusters/cluster-repo.js';

const tags = ['Pods'];
/** A followed log stream ends after this long; clients reconnect with ?tail to continue. */
const MAX_FOLLOW_MS = 10 * 60_000;
/** How often a followed stream re-checks its caller's credentials (the revocation bound for streams). */
const REAUTH_INTERVAL_MS = 2_000;

const Pod = Type.Object({
  name: Type.String(),
  namespace: Type.String(),
  node: Type.String(),
  status: Type.String(),
  restarts: Type.Integer(),
  started_at: Timestamp,
});

const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const PodParams = Type.Object({
  id: IdParam,
  pod: Type.String({ minLength: 1, maxLength: 253, pattern: POD_NAME.source }),
});

const PodListQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400 })) },
  { additionalProperties: false },
);

const LogQuery = Type.Object(
  {
    tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 100, description: 'How many of the latest lines to send first.' })),
    follow: Type.Optional(Type.Boolean({ default: false, description: 'Keep the response open and stream new lines.' })),
  },
  { additionalProperties: false },
);

export function registerPodRoutes(root: FastifyInstance, deps: ModuleDeps & { shutdown: AbortSignal }): void {
  const { shutdown } = deps;
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const clusters = createClusterRepo(deps.database.db);

  /** Pods exist only on a cluster that is up; anything else is a state conflict, not an empty list. */
  async function runningSpec(accountId: string, clusterId: string) {
    const cluster = await clusters.get(accountId, clusterId);
    if (!cluster) throw notFound('cluster', clusterId);
    if (cluster.status !== 'running' && cluster.status !== 'upgrading') {
      throw conflict(`Cluster ${clusterId} is ${cluster.status}; pods can be listed while it is running.`, { cluster_status: cluster.status });
    }
    return loadClusterSpec(deps.database.db, clusterId);
  }

  app.get(
    '/clusters/:id/pods',
    {
      config: { auth: scope('clusters:read') },
      schema: {
        tags,
        summary: "List the cluster's pods (by name)",
        params: Type.Object({ id: IdParam }),
        querystring: PodListQuery,
        response: { 200: Type.Object({ data: Type.Array(Pod), next_cursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (request) => {
      const spec = await runningSpec(principalOf(request).accountId, request.params.id);
      const limit = request.query.limit ?? 50;
      let after: string | null = null;
      if (request.query.cursor !== undefined) {
        after = Buffer.from(request.query.cursor, 'base64url').toString('utf8');
        if (!POD_NAME.test(after)) {
          throw new AppError('validation_failed', 'cursor is not one this API returned', {
            errors: [{ path: 'query.cursor', message: 'is not a cursor this API returned' }],
          });
        }
      }
      const pods = (await deps.driver.listPods(spec))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .filter((pod) => after === null || pod.name > after);
      const page = pods.slice(0, limit);
      const last = page[page.length - 1];
      return { data: page, next_cursor: pods.length > limit && last ? Buffer.from(last.name).toString('base64url') : null };
    },
  );

  app.get(
    '/clusters/:id/pods/:pod/logs',
    {
      config: { auth: scope('clusters:read') },
      schema: {
        tags,
        summary: 'Pod logs as text/plain; with follow=true the response streams',
        params: PodParams,
        querystring: LogQuery,
        produces: ['text/plain'],
      },
    },
    async (request, reply) => {
      const spec = await runningSpec(principalOf(request).accountId, request.params.id);
      const controller = new AbortController();
      const follow = request.query.follow ?? false;
      const lines = await deps.driver.podLogs(spec, request.params.pod, { tail: request.query.tail ?? 100, follow, signal: controller.signal });
      if (!lines) throw notFound('pod', request.params.pod);
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
