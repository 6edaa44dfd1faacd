import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import type { ModuleDeps } from '../module.js';
import { registerGithubScanningRoutes } from './github-scanning-routes.js';

/**
 * Leak response (CONTRACT §7): GitHub secret scanning reports our keys found in public, and they are
 * revoked at once. Signed by GitHub; off (404) unless GITHUB_SECRET_SCANNING_KEYS is set.
 */
export function register(app: FastifyInstance, deps: Pick<ModuleDeps, 'clock'> & { config: Pick<Config, 'inbound'>; keys: ApiKeyStore }): void {
  registerGithubScanningRoutes(app, deps);
}
