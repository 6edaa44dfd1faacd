import type { FastifyInstance } from 'fastify';
import type { RouteInventory } from '../../http/auth-gate.js';
import type { ModuleDeps } from '../module.js';
import type { ApiKeyStore } from './api-key-store.js';
import { registerApiKeyRoutes } from './api-key-routes.js';
import { registerKeyActivityRoutes } from './key-activity-routes.js';

/**
 * API keys: create, list, change, roll and revoke, and what each key did (activity, usage). The key store
 * and the activity recorder are built by buildApp, for the authenticator and the onResponse hook.
 */
export function register(app: FastifyInstance, deps: Pick<ModuleDeps, 'database' | 'clock'> & { keys: ApiKeyStore; routes: RouteInventory }): void {
  registerApiKeyRoutes(app, deps);
  registerKeyActivityRoutes(app, deps);
}
