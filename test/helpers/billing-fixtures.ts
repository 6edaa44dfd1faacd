import { waitForJob } from './fixtures.js';
import type { Account, Harness } from './harness.js';
import type { MovableClock } from './movable-clock.js';

/** Sets a MovableClock so that "now" is `iso` (real time keeps flowing from there). */
export function moveClockTo(clock: MovableClock, iso: string): void {
  clock.advance(Date.parse(iso) - clock.now().getTime());
}

/** The 10th of next month, 08:00 UTC: far enough from a month's edges that hours of clock moves stay inside it. */
export function midNextMonth(from: Date = new Date()): string {
  return new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + 1, 10, 8)).toISOString();
}

async function finished(h: Harness, account: Account, response: { statusCode: number; body: string; json(): unknown }, what: string) {
  if (response.statusCode !== 202) throw new Error(`${what}: ${response.statusCode} ${response.body}`);
  const job = await waitForJob(h, account, (response.json() as { job: { id: string } }).job.id);
  if (job.status !== 'succeeded') throw new Error(`${what} job ${job.status}: ${JSON.stringify(job.error)}`);
}

/** Adds a node pool of `nodes` nodes and waits until it runs; returns its id. */
export async function addNodePool(h: Harness, account: Account, clusterId: string, nodes: number, name = 'workers'): Promise<string> {
  const response = await h.inject({
    method: 'POST',
    url: `/clusters/${clusterId}/node-pools`,
    headers: account.auth,
    payload: { name, instance_type: 'm6i.large', min_size: 0, max_size: 10, desired_size: nodes },
  });
  await finished(h, account, response, 'add node pool');
  return (response.json() as { node_pool: { id: string } }).node_pool.id;
}

export async function resizeNodePool(h: Harness, account: Account, clusterId: string, poolId: string, nodes: number): Promise<void> {
  const response = await h.inject({ method: 'PATCH', url: `/clusters/${clusterId}/node-pools/${poolId}`, headers: account.auth, payload: { desired_size: nodes } });
  await finished(h, account, response, 'resize node pool');
}

export async function removeNodePool(h: Harness, account: Account, clusterId: string, poolId: string): Promise<void> {
  const response = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}/node-pools/${poolId}`, headers: account.auth });
  await finished(h, account, response, 'remove node pool');
}

export async function destroyCluster(h: Harness, account: Account, clusterId: string): Promise<void> {
  const response = await h.inject({ method: 'DELETE', url: `/clusters/${clusterId}`, headers: account.auth });
  await finished(h, account, response, 'destroy cluster');
}
