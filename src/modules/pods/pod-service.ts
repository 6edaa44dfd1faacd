import { AppError, conflict, notFound } from '../../http/errors.js';
import type { Pod } from '../../infra/driver.js';
import { createClusterRepo, loadClusterSpec } from '../clusters/cluster-repo.js';
import type { ModuleDeps } from '../module.js';
import { POD_NAME } from './pod-schemas.js';

const badCursor = () =>
  new AppError('validation_failed', 'cursor is not one this API returned', { errors: [{ path: 'query.cursor', message: 'is not a cursor this API returned' }] });

/** Pods as the cluster reports them through the driver: nothing about them is stored here. */
export function createPodService(deps: ModuleDeps) {
  const { driver } = deps;
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

  return {
    /** The cluster's pods by name; the cursor is the last name of the page before. */
    async list(accountId: string, clusterId: string, query: { limit?: number; cursor?: string }): Promise<{ data: Pod[]; next_cursor: string | null }> {
      const spec = await runningSpec(accountId, clusterId);
      const limit = query.limit ?? 50;
      let after: string | null = null;
      if (query.cursor !== undefined) {
        after = Buffer.from(query.cursor, 'base64url').toString('utf8');
        if (!POD_NAME.test(after)) throw badCursor();
      }
      const pods = (await driver.listPods(spec))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .filter((pod) => after === null || pod.name > after);
      const page = pods.slice(0, limit);
      const last = page[page.length - 1];
      return { data: page, next_cursor: pods.length > limit && last ? Buffer.from(last.name).toString('base64url') : null };
    },

    /** A pod's log lines, oldest first; with `follow`, they keep coming until `signal` aborts. */
    async logs(accountId: string, clusterId: string, pod: string, options: { tail: number; follow: boolean; signal: AbortSignal }): Promise<AsyncIterable<string>> {
      const spec = await runningSpec(accountId, clusterId);
      const lines = await driver.podLogs(spec, pod, options);
      if (!lines) throw notFound('pod', pod);
      return lines;
    },
  };
}
