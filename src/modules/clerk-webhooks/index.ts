import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.js';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import type { ModuleDeps } from '../module.js';
import { registerClerkWebhookRoutes } from './clerk-webhook-routes.js';

/**
 * Owners who leave (CONTRACT §7): Clerk tells us (through Svix) when a member leaves an organisation, or a
 * user or an organisation is deleted, and the keys they leave behind are revoked. Off (404) unless
 * CLERK_WEBHOOK_SECRET is set.
 */
export function register(app: FastifyInstance, deps: Pick<ModuleDeps, 'clock' | 'database'> & { config: Pick<Config, 'inbound'>; keys: ApiKeyStore }): void {
  registerClerkWebhookRoutes(app, deps);
}
