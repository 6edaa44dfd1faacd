import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { JobHandlerRegistry } from '../jobs/job-types.js';
import type { ModuleDeps } from '../module.js';
import { dagJobHandlers } from './dag-jobs.js';
import { registerDagRoutes } from './dag-routes.js';

/** DAG bundles of Airflow apps: checked uploads, stored versions, and the jobs that sync them. */
export function register(app: FastifyInstance, deps: ModuleDeps & { config: Pick<Config, 'dataDir'>; jobHandlers: JobHandlerRegistry }): void {
  registerDagRoutes(app, deps);
  deps.jobHandlers.add(dagJobHandlers());
}
