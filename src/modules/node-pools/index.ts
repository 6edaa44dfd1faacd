import type { FastifyInstance } from 'fastify';
import type { JobHandlerRegistry } from '../jobs/job-types.js';
import type { ModuleDeps } from '../module.js';
import { nodePoolJobHandlers } from './node-pool-jobs.js';
import { registerNodePoolRoutes } from './node-pool-routes.js';

/** Node pools of a cluster, and the jobs that create, resize and remove them. */
export function register(app: FastifyInstance, deps: ModuleDeps & { jobHandlers: JobHandlerRegistry }): void {
  registerNodePoolRoutes(app, deps);
  deps.jobHandlers.add(nodePoolJobHandlers());
}
