import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { waitForJob, type JobBody } from './fixtures.js';
import type { Account, Harness } from './harness.js';
import type { Problem } from './problem.js';

/** Apps and deploys as the API returns them (issue 3 items 1–2), as the tests read them. */
export interface AppBody {
  id: string;
  cluster_id: string;
  name: string;
  type: string;
  image: string | null;
  status: string;
  status_reason: string | null;
  config: { replicas: number; port?: number };
  current_deploy_id: string | null;
  active_job_id: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface DeployBody {
  id: string;
  app_id: string;
  image: string;
  status: string;
  job_id: string | null;
  previous_image: string | null;
  error: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

export interface HealthBody {
  app_id: string;
  status: string;
  checks: Array<{ name: string; status: string; message: string; checked_at: string }>;
  checked_at: string;
}

export type Headers = Record<string, string>;

export const IMAGE_V1 = 'registry.example.com/team/etl:1.0.0';
export const IMAGE_V2 = 'registry.example.com/team/etl:2.0.0';
export const IMAGE_V3 = 'registry.example.com/team/etl:3.0.0';

/** An image the simulated driver fails in the rollout's last step (`simfail-<step>` in the image). */
export const FAILING_ROLLOUT = 'registry.example.com/team/etl:simfail-wait-for-rollout';

let counter = 0;
/** A DNS-label name unique within the test process. */
export const uniqueName = (prefix = 'app'): string => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export async function getJson<T>(h: Harness, headers: Headers, url: string): Promise<T> {
  const response = await h.inject({ method: 'GET', url, headers });
  expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
  return response.json() as T;
}

export async function postApp(h: Harness, headers: Headers, payload: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return h.inject({ method: 'POST', url: '/apps', headers, payload });
}

/** Creates an app and returns it; fails the test on anything but 201. */
export async function createApp(h: Harness, account: Account, clusterId: string, extra: Record<string, unknown> = {}): Promise<AppBody> {
  const response = await postApp(h, account.auth, { name: uniqueName(), cluster_id: clusterId, type: 'service', ...extra });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as AppBody;
}

export async function postDeploy(h: Harness, headers: Headers, appId: string, image: string): Promise<LightMyRequestResponse> {
  return h.inject({ method: 'POST', url: `/apps/${appId}/deploys`, headers, payload: { image } });
}

/** Requests a deploy (202) and returns it with its job. */
export async function deploy(h: Harness, account: Account, appId: string, image: string): Promise<{ deploy: DeployBody; job: JobBody }> {
  const response = await postDeploy(h, account.auth, appId, image);
  expect(response.statusCode, response.body).toBe(202);
  return response.json() as { deploy: DeployBody; job: JobBody };
}

/** The app's first deploy (queued at create) and its job id. */
export async function firstDeploy(h: Harness, account: Account, appId: string): Promise<DeployBody> {
  const list = await getJson<{ data: DeployBody[] }>(h, account.auth, `/apps/${appId}/deploys`);
  expect(list.data).toHaveLength(1);
  return list.data[0] as DeployBody;
}

/** For harnesses started without the runner: runs jobs until this one has finished, then stops again. */
export async function runUntilFinished(h: Harness, account: Account, jobId: string): Promise<JobBody> {
  await h.app.jobRunner.start();
  try {
    return await waitForJob(h, account, jobId);
  } finally {
    await h.app.jobRunner.stop();
  }
}

/** Rows of the app and deploy tables for an account: what a refused request must leave unchanged. */
export async function snapshot(h: Harness, accountId: string): Promise<{ apps: unknown[]; deploys: unknown[]; jobs: number }> {
  const db = h.deps.database.db;
  const apps = await db.selectFrom('apps').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
  const deploys = await db.selectFrom('deploys').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
  const jobs = await db.selectFrom('jobs').select('id').where('account_id', '=', accountId).execute();
  return { apps, deploys, jobs: jobs.length };
}

/** Every route of issue 3 items 1–2 that takes an app id (and a deploy id), with a body that would pass validation. */
export function appIdRoutes(appId: string, deployId: string) {
  return [
    ['GET', `/apps/${appId}`, undefined],
    ['PATCH', `/apps/${appId}`, { name: 'stolen' }],
    ['DELETE', `/apps/${appId}`, undefined],
    ['POST', `/apps/${appId}/restart`, undefined],
    ['GET', `/apps/${appId}/health`, undefined],
    ['GET', `/apps/${appId}/deploys`, undefined],
    ['POST', `/apps/${appId}/deploys`, { image: 'registry.example.com/evil/app:1' }],
    ['GET', `/apps/${appId}/deploys/${deployId}`, undefined],
  ] as const;
}

/** A problem body with what legitimately differs between two calls (request id, the ids asked for) blanked out. */
export function comparable(response: LightMyRequestResponse, ids: string[]): Problem {
  const body = response.json() as Problem;
  let detail = body.detail;
  for (const id of ids) detail = detail.split(id).join('<id>');
  return { ...body, detail, request_id: '' };
}
