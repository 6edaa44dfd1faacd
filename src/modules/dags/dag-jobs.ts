import { loadClusterSpec } from '../clusters/cluster-repo.js';
import type { JobHandlers } from '../jobs/job-types.js';
import { finishBundle, getBundleWithApp, toAppSpec } from './dag-repo.js';

/**
 * How a dag.sync job changes its bundle when it ends. A canceled sync leaves the bundle `failed`
 * rather than adding a fourth status: either way the version is stored but not on the cluster, and
 * the job (job_id) says whether it failed or was canceled, and why.
 */
export function dagJobHandlers(): Pick<Required<JobHandlers>, 'dag.sync'> {
  return {
    'dag.sync': {
      async operation(db, job) {
        const { bundle, app } = await getBundleWithApp(db, job.resource_id);
        return {
          kind: 'dag.sync',
          cluster: await loadClusterSpec(db, app.cluster_id),
          app: toAppSpec(app),
          bundle: { id: bundle.id, version: bundle.version, digest: bundle.digest, fileCount: bundle.file_count },
        };
      },
      succeeded: (trx, job, now) => finishBundle(trx, job.resource_id, job.id, 'synced', now),
      failed: (trx, job, _reason, now) => finishBundle(trx, job.resource_id, job.id, 'failed', now),
      canceled: (trx, job, now) => finishBundle(trx, job.resource_id, job.id, 'failed', now),
    },
  };
}
