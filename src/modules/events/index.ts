import type { FastifyInstance } from 'fastify';
import type { EventLog } from './event-log.js';
import { registerEventRoutes } from './event-routes.js';

/**
 * The account's audit trail (CONTRACT §7). The event log itself is built by buildApp: every module that
 * changes something records its event through it, in the transaction of the change.
 */
export function register(app: FastifyInstance, deps: { events: EventLog }): void {
  registerEventRoutes(app, deps);
}
