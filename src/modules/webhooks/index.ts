import type { FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../../db/database.js';
import type { Config } from '../../config.js';
import type { ModuleDeps } from '../module.js';
import { createDeliveryWorker } from './delivery-worker.js';
import { registerWebhookRoutes } from './webhook-routes.js';
import { createWebhookService } from './webhook-service.js';

/**
 * Outgoing webhooks (CONTRACT §7): endpoints, the fan-out that queues a delivery per subscribed endpoint
 * in each event's transaction, and the worker that sends them (where jobs run: `runJobs`).
 */
export function register(
  app: FastifyInstance,
  deps: Omit<ModuleDeps, 'driver' | 'database'> & {
    database: Pick<DatabaseHandle, 'db' | 'capabilities' | 'sqlNow' | 'faults'>;
    config: Config;
    encryptionKey: Buffer;
    runJobs: boolean;
    instanceId?: string | undefined;
  },
): void {
  const policy = { allowPrivate: deps.config.webhooks.allowPrivate };
  const service = createWebhookService({ db: deps.database.db, clock: deps.clock, encryptionKey: deps.encryptionKey, events: deps.events, policy });
  deps.events.addFanOut((trx, event) => service.fanOut(trx, event));
  registerWebhookRoutes(app, service);

  if (!deps.runJobs) return;
  const worker = createDeliveryWorker({
    database: deps.database,
    clock: deps.clock,
    events: deps.events,
    encryptionKey: deps.encryptionKey,
    logger: app.log,
    instanceId: `${deps.instanceId ?? process.pid}-webhooks`,
    pollIntervalMs: deps.config.jobPollIntervalMs,
    timeoutMs: deps.config.webhooks.timeoutMs,
    policy,
    reclaimAllOnStart: !deps.database.capabilities.sharedByInstances,
  });
  app.addHook('onReady', async () => worker.start());
  app.addHook('onClose', async () => worker.stop());
}
