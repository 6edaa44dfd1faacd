import type { Multipart } from '@fastify/multipart';
import type { Principal } from '../../auth/principal.js';
import { principalId } from '../../auth/principal.js';
import { isUniqueViolation, type Db } from '../../db/database.js';
import { AppError, conflict, notFound } from '../../http/errors.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { InfraDriver } from '../../infra/driver.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { loadClusterSpec } from '../clusters/cluster-repo.js';
import { createJobStarter, type StartedJob } from '../jobs/job-starter.js';
import type { CheckedBundle } from './dag-bundle.js';
import { DAG_LIMITS } from './dag-paths.js';
import { createDagRepo, toAppSpec, type AppRow, type DagBundleRow } from './dag-repo.js';
import type { BlobStore } from './dag-storage.js';
import { readDagUpload } from './dag-upload.js';

export function presentDagBundle(row: DagBundleRow) {
  return {
    id: row.id,
    app_id: row.app_id,
    version: row.version,
    digest: row.digest,
    size_bytes: row.size_bytes,
    file_count: row.file_count,
    files: JSON.parse(row.files) as Array<{ path: string; size: number; sha256: string }>,
    status: row.status,
    job_id: row.job_id,
    created_by: row.created_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Why this app takes no DAGs now (null when it does). */
function refusal(app: AppRow): AppError | null {
  if (app.deleted_at !== null || app.status === 'deleting' || app.status === 'deleted') {
    return conflict(`App ${app.id} is ${app.deleted_at !== null ? 'deleted' : app.status}; it takes no new DAGs.`, { app_status: app.status });
  }
  if (app.type !== 'airflow') {
    return new AppError('validation_failed', `App ${app.id} is a ${app.type} app; DAGs go to airflow apps only.`, {
      errors: [{ path: 'path.id', message: `is a ${app.type} app; DAGs go to airflow apps only` }],
    });
  }
  return null;
}

export interface UploadRequest {
  /** The Content-Length header as sent (undefined for a chunked body). */
  contentLength: string | undefined;
  parts: () => AsyncIterable<Multipart>;
}

/** Bounds the request before a byte of it is parsed; the parser counts again as it reads. */
function checkContentLength(header: string | undefined): void {
  if (header === undefined) {
    throw new AppError('validation_failed', 'Send DAG uploads with a Content-Length header.', {
      errors: [{ path: 'header.content-length', message: 'is required for uploads' }],
    });
  }
  if (!/^\d{1,15}$/.test(header) || Number(header) > DAG_LIMITS.maxRequestBytes) {
    throw new AppError('payload_too_large', `A DAG upload may be at most ${DAG_LIMITS.maxRequestBytes} bytes.`, {
      errors: [{ path: 'body', message: `is larger than ${DAG_LIMITS.maxRequestBytes} bytes` }],
    });
  }
}

export function createDagService(deps: { db: Db; clock: Clock; driver: InfraDriver; blobs: BlobStore }) {
  const { db, clock, driver, blobs } = deps;
  const repo = createDagRepo(db);
  const startJob = createJobStarter({ db, clock });

  async function mustGetApp(accountId: string, appId: string): Promise<AppRow> {
    const app = await repo.findApp(accountId, appId);
    if (!app) throw notFound('app', appId);
    return app;
  }

  /** Version, row and sync job in one transaction; only this part can race with another upload. */
  async function record(principal: Principal, app: AppRow, bundle: CheckedBundle): Promise<StartedJob<DagBundleRow>> {
    const cluster = await loadClusterSpec(db, app.cluster_id);
    const files = JSON.stringify(bundle.files.map(({ path, size, sha256 }) => ({ path, size, sha256 })));
    const now = clock.now().toISOString();
    // Two attempts: the app lock already queues uploads to one app, the retry covers a unique (app, version) clash anyway.
    for (let attempt = 1; ; attempt++) {
      const id = newId('dagBundle', Date.parse(now));
      try {
        const started = await startJob({
          type: 'dag.sync',
          principal,
          resource: { type: 'dag_bundle', id },
          clusterId: app.cluster_id,
          now,
          claim: async (trx, job) => {
            if (!(await repo.lockLiveApp(trx, principal.accountId, app.id))) {
              throw conflict(`App ${app.id} is being deleted; it takes no new DAGs.`);
            }
            const version = await repo.nextVersion(trx, app.id);
            await repo.insert(trx, {
              id,
              account_id: principal.accountId,
              app_id: app.id,
              version,
              digest: bundle.digest,
              size_bytes: bundle.sizeBytes,
              file_count: bundle.files.length,
              files,
              status: 'syncing',
              job_id: job.id,
              created_by: principalId(principal),
              created_at: job.now,
              updated_at: job.now,
            });
            const steps = driver.steps({ kind: 'dag.sync', cluster, app: toAppSpec(app), bundle: { id, version, digest: bundle.digest, fileCount: bundle.files.length } });
            return { input: { app_id: app.id, version, digest: bundle.digest }, steps };
          },
          readBack: async (trx) => {
            const row = await repo.get(principal.accountId, id, trx);
            if (!row) throw new Error(`DAG bundle ${id} is missing from its own transaction`);
            return row;
          },
        });
        // A DAG bundle is made with its job: nothing else can hold it.
        if (started === null) throw new Error(`DAG bundle ${id} was not claimed by its sync job`);
        return started;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (attempt >= 2) throw conflict(`Another DAG upload to app ${app.id} took the same version; upload again.`);
      }
    }
  }

  return {
    async upload(principal: Principal, appId: string, request: UploadRequest) {
      checkContentLength(request.contentLength);
      const app = await mustGetApp(principal.accountId, appId);
      const refused = refusal(app);
      if (refused) throw refused;
      const bundle = await readDagUpload(request.parts());
      // Disk writes stay outside the transaction; blobs are content-addressed, so one left by a failed
      // transaction is harmless and is simply found again by the next upload of the same content.
      await blobs.putAll(bundle.files);
      const { resource, job } = await record(principal, app, bundle);
      return { bundle: presentDagBundle(resource), job };
    },

    async list(accountId: string, appId: string, query: { limit?: number; cursor?: string }) {
      await mustGetApp(accountId, appId);
      const page = pageRequest(query);
      // The cursor names the last bundle shown; the pages follow its version.
      let before: number | null = null;
      if (page.after !== null) {
        const version = await repo.versionOf(accountId, appId, page.after);
        if (version === undefined) {
          throw new AppError('validation_failed', 'cursor is not one this API returned for this app', {
            errors: [{ path: 'query.cursor', message: 'is not a cursor this API returned for this app' }],
          });
        }
        before = version;
      }
      return toPage(await repo.list(accountId, appId, { limit: page.limit, after: before }), page, presentDagBundle);
    },
  };
}

export type DagService = ReturnType<typeof createDagService>;
