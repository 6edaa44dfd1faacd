import type { FastifyInstance } from 'fastify';
import type { ResponseCache } from '../../http/response-cache.js';
import type { JobHandlerRegistry } from '../jobs/job-types.js';
import type { ModuleDeps } from '../module.js';
import { clusterJobHandlers } from './cluster-jobs.js';
import { registerClusterRoutes } from './cluster-routes.js';

/** Clusters, and the jobs that create, upgrade and destroy them. */
export function register(app: FastifyInstance, deps: ModuleDeps & { responses: ResponseCache; jobHandlers: JobHandlerRegistry }): void {
  registerClusterRoutes(app, deps);
  deps.jobHandlers.add(clusterJobHandlers());
}
