import { newId } from '../../src/lib/ids.js';
import { createCluster } from './fixtures.js';
import type { Account, Harness } from './harness.js';

export interface AppFixture {
  appId: string;
  clusterId: string;
  name: string;
}

/**
 * A running app without going through the apps module: a running cluster made through the API, then
 * an `apps` row written directly (the tokens part reads only that table).
 */
export async function createRunningApp(
  h: Harness,
  account: Account,
  options: { type?: 'airflow' | 'service'; name?: string; clusterId?: string; status?: string } = {},
): Promise<AppFixture> {
  const clusterId = options.clusterId ?? (await createCluster(h, account, { wait: true })).clusterId;
  const now = h.deps.clock.now();
  const appId = newId('app', now.getTime());
  const name = options.name ?? `app-${Math.random().toString(36).slice(2, 8)}`;
  await h.deps.database.db
    .insertInto('apps')
    .values({
      id: appId,
      account_id: account.accountId,
      cluster_id: clusterId,
      name,
      type: options.type ?? 'service',
      image: null,
      status: options.status ?? 'running',
      status_reason: null,
      config: '{}',
      current_deploy_id: null,
      active_job_id: null,
      created_by: account.userId,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      deleted_at: null,
    })
    .execute();
  return { appId, clusterId, name };
}
