import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { newId } from '../../src/lib/ids.js';
import { createCluster } from './fixtures.js';
import type { Account, Harness } from './harness.js';

export interface TestApp {
  appId: string;
  clusterId: string;
  name: string;
}

/**
 * An app row written straight into the database (POST /apps belongs to another module): a running
 * Airflow app by default, on a running cluster made through the API.
 */
export async function createTestApp(
  h: Harness,
  account: Account,
  options: { clusterId?: string; name?: string; type?: 'airflow' | 'service'; status?: string; deleted?: boolean } = {},
): Promise<TestApp> {
  const clusterId = options.clusterId ?? (await createCluster(h, account, { wait: true })).clusterId;
  const at = h.deps.clock.now();
  const now = at.toISOString();
  const appId = newId('app', at.getTime());
  const name = options.name ?? `app-${Math.random().toString(36).slice(2, 8)}`;
  await h.deps.database.db
    .insertInto('apps')
    .values({
      id: appId,
      account_id: account.accountId,
      cluster_id: clusterId,
      name,
      type: options.type ?? 'airflow',
      image: null,
      status: options.status ?? 'running',
      status_reason: null,
      config: '{}',
      current_deploy_id: null,
      active_job_id: null,
      created_by: account.userId,
      created_at: now,
      updated_at: now,
      deleted_at: options.deleted ? now : null,
    })
    .execute();
  return { appId, clusterId, name };
}

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** The digest the API must report, recomputed here from its documented manifest format. */
export function expectedDigest(files: Array<{ path: string; data: Buffer | string }>): string {
  const lines = files
    .map((file) => ({ path: file.path, size: Buffer.byteLength(file.data), sha: sha256(file.data) }))
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((file) => `${file.path}\t${file.size}\t${file.sha}\n`)
    .join('');
  return `sha256:${sha256(lines)}`;
}

export function blobDir(h: Harness): string {
  return path.join(h.deps.config.dataDir, 'dag-blobs');
}

/** Everything an upload could leave behind, to compare before and after a refused one. */
export async function dagFootprint(h: Harness): Promise<{ bundles: number; syncJobs: number; blobs: string[] }> {
  const db = h.deps.database.db;
  const bundles = await db.selectFrom('dag_bundles').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
  const jobs = await db.selectFrom('jobs').select((eb) => eb.fn.countAll<string | number>().as('n')).where('type', '=', 'dag.sync').executeTakeFirstOrThrow();
  const dir = blobDir(h);
  return { bundles: Number(bundles.n), syncJobs: Number(jobs.n), blobs: existsSync(dir) ? readdirSync(dir).sort() : [] };
}
