import type { Account, Harness } from './harness.js';
import { waitFor } from './harness.js';

export const AWS_CREDENTIALS = {
  access_key_id: 'AKIAIOSFODNN7EXAMPLE',
  secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab',
};

export async function createCloud(h: Harness, account: Account, name = 'main'): Promise<string> {
  const response = await h.inject({
    method: 'POST',
    url: '/clouds',
    headers: account.auth,
    payload: { name, provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS },
  });
  if (response.statusCode !== 201) throw new Error(`createCloud: ${response.statusCode} ${response.body}`);
  return (response.json() as { id: string }).id;
}

export interface JobBody {
  id: string;
  status: string;
  type: string;
  steps: Array<{ name: string; status: string }>;
  logs: Array<{ message: string; level: string; step: string | null }>;
  error: { code: string; message: string } | null;
  cancel_requested_at: string | null;
}

/** Follows a job through the API until it is finished (needs a harness started with runJobs). */
export async function waitForJob(h: Harness, account: Account, jobId: string, timeoutMs = 15_000): Promise<JobBody> {
  return waitFor(async () => {
    const response = await h.inject({ method: 'GET', url: `/jobs/${jobId}`, headers: account.auth });
    const job = response.json() as JobBody;
    return ['succeeded', 'failed', 'canceled'].includes(job.status) ? job : undefined;
  }, timeoutMs);
}

/** Creates a cluster; with `wait`, returns once its create job has finished. */
export async function createCluster(
  h: Harness,
  account: Account,
  options: { cloudId?: string; name?: string; wait?: boolean } = {},
): Promise<{ clusterId: string; jobId: string; cloudId: string }> {
  const cloudId = options.cloudId ?? (await createCloud(h, account, `cloud-${Math.random().toString(36).slice(2, 8)}`));
  const response = await h.inject({
    method: 'POST',
    url: '/clusters',
    headers: account.auth,
    payload: { name: options.name ?? `c-${Math.random().toString(36).slice(2, 10)}`, cloud_id: cloudId },
  });
  if (response.statusCode !== 202) throw new Error(`createCluster: ${response.statusCode} ${response.body}`);
  const body = response.json() as { cluster: { id: string }; job: { id: string } };
  if (options.wait) {
    const job = await waitForJob(h, account, body.job.id);
    if (job.status !== 'succeeded') throw new Error(`cluster create job ${job.status}: ${JSON.stringify(job.error)}`);
  }
  return { clusterId: body.cluster.id, jobId: body.job.id, cloudId };
}
