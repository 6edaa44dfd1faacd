import { createTestApp } from './dags-fixtures.js';
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
  return createTestApp(h, account, { ...options, type: options.type ?? 'service' });
}
