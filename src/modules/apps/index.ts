import type { Config } from '../../config.js';
import type { FastifyInstance } from 'fastify';
import type { ResponseCache } from '../../http/response-cache.js';
import type { JobHandlerRegistry } from '../jobs/job-types.js';
import type { ModuleDeps } from '../module.js';
import { appJobHandlers } from './app-jobs.js';
import { registerAppRoutes } from './app-routes.js';

/** Applications on clusters, their health, and the jobs that deploy, restart and delete them. */
export function register(app: FastifyInstance, deps: ModuleDeps & { responses: ResponseCache; jobHandlers: JobHandlerRegistry; config: Pick<Config, 'registryService'> }): void {
  registerAppRoutes(app, deps);
  deps.jobHandlers.add(appJobHandlers());
}
