import multipart from '@fastify/multipart';
import { LONGEST_BODY_TIMEOUT_MS } from '../../http/slow-clients.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import { scope } from '../../auth/scopes.js';
import type { ModuleDeps } from '../module.js';
import { principalOf } from '../../http/auth-gate.js';
import { AppError } from '../../http/errors.js';
import { pageSchema } from '../../http/pagination.js';
import { IdParams } from '../../http/schemas.js';
import { DAG_LIMITS, NO_FILES_MESSAGE, rejectFile } from './dag-paths.js';
import { DagBundle, DagBundleAccepted, DagListQuery, DagUploadBody, UPLOAD_DESCRIPTION } from './dag-schemas.js';
import { createDagService } from './dag-service.js';
import { createBlobStore } from './dag-storage.js';
import { MULTIPART_LIMITS } from './dag-upload.js';

const tags = ['DAGs'];

const noFiles = () => rejectFile('file', NO_FILES_MESSAGE);
const notMultipart = () => new AppError('unsupported_media_type', 'Upload DAG files as multipart/form-data, one part named "file" per file.');

export function registerDagRoutes(root: FastifyInstance, deps: ModuleDeps & { config: Pick<Config, 'dataDir'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const service = createDagService({ db: deps.database.db, clock: deps.clock, driver: deps.driver, blobs: createBlobStore(deps.config.dataDir) });

  app.get(
    '/apps/:id/dags',
    {
      config: { auth: scope('apps:read') },
      schema: { operationId: 'listDagBundles', tags, summary: "An app's DAG bundle versions, newest first, with their files", params: IdParams, querystring: DagListQuery, response: { 200: pageSchema(DagBundle) } },
    },
    async (request) => service.list(principalOf(request).accountId, request.params.id, request.query),
  );

  // Multipart is parsed in this plugin only: every other route keeps answering 415 to it.
  void root.register(async (uploads) => {
    // JSON and the rest are refused here before a byte is read, with a message for this route.
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser('*', (_request, _payload, done) => done(notMultipart(), undefined));
    await uploads.register(multipart, { limits: MULTIPART_LIMITS, preservePath: true, throwFileSizeLimit: true });

    uploads.withTypeProvider<TypeBoxTypeProvider>().post(
      '/apps/:id/dags',
      {
        // A bundle may be 22 MiB: it gets the longest body bound (http/slow-clients.ts), not the 10 s of a JSON body.
        config: { auth: scope('apps:deploy'), bodyTimeoutMs: LONGEST_BODY_TIMEOUT_MS, problems: ['conflict'], documentedBody: DagUploadBody },
        // Fastify applies bodyLimit only to bodies it buffers; the upload is streamed, so the service
        // checks Content-Length against the same number and counts every byte it reads.
        bodyLimit: DAG_LIMITS.maxRequestBytes,
        schema: { operationId: 'uploadDags', tags, summary: 'Upload DAG files or one bundle (asynchronous: follow the sync job)', description: UPLOAD_DESCRIPTION, params: IdParams, response: { 202: DagBundleAccepted } },
      },
      async (request, reply) => {
        // Every body that is not multipart was refused (415) by the parser above: this one sent none.
        if (!request.isMultipart()) throw noFiles();
        let result;
        try {
          result = await service.upload(principalOf(request), request.params.id, {
            contentLength: request.headers['content-length'],
            parts: () => request.parts(),
          });
        } catch (error) {
          // A refusal mid-stream leaves the rest of the body unread and the connection stuck; drain it
          // (Content-Length bounds it) so the client reads the answer and keep-alive goes on working.
          // The parser lets go of the body only after this point, so the drain starts with the answer.
          const raw = request.raw;
          if (!raw.readableEnded) reply.raw.once('finish', () => raw.resume());
          throw error;
        }
        reply.code(202);
        return result;
      },
    );
  });
}
