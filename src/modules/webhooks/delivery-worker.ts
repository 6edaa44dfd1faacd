import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle, Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { createClaimLoop } from '../../lib/claim-loop.js';
import { open } from '../../lib/secret-box.js';
import type { EventLog } from '../events/event-log.js';
import { systemActor } from '../events/actor.js';
import { createDeliveryLeaseRepo, type AttemptOutcome } from './delivery-lease-repo.js';
import { giveUpPending, noteAttemptOnEndpoint, type DeliveryRow } from './webhook-repo.js';
import type { DestinationPolicy } from './webhook-destination.js';
import { sendWebhook } from './webhook-sender.js';

/**
 * When a failed delivery is tried again: after attempt n fails, RETRY_DELAYS_MS[n-1] later (±10 % jitter,
 * so endpoints that failed together are not retried in lockstep). Ten attempts over about 23 hours; after
 * the tenth fails the delivery is given up (status `failed`).
 */
export const RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000] as const;

/** An endpoint whose deliveries have all failed for this long is disabled (and `webhook.disabled` raised). */
export const DISABLE_AFTER_MS = 3 * 24 * 3_600_000;

export function retryDelay(attempts: number, random: () => number = Math.random): number | null {
  const base = RETRY_DELAYS_MS[attempts - 1];
  if (base === undefined) return null;
  return Math.round(base * (0.9 + 0.2 * random()));
}

export interface DeliveryWorkerDeps {
  database: Pick<DatabaseHandle, 'db' | 'capabilities' | 'sqlNow' | 'faults'>;
  clock: Clock;
  events: Pick<EventLog, 'record'>;
  encryptionKey: Buffer;
  logger: FastifyBaseLogger;
  instanceId: string;
  pollIntervalMs: number;
  timeoutMs: number;
  policy: DestinationPolicy;
  /** One process owns the database (SQLite): leases left by a crash are taken back at start. */
  reclaimAllOnStart: boolean;
  concurrency?: number;
}

export interface DeliveryWorker {
  start(): Promise<void>;
  /** Stops claiming, aborts attempts in flight and gives their deliveries back (they are retried, not lost). */
  stop(): Promise<void>;
  tick(): Promise<void>;
}

/**
 * Sends queued webhook deliveries. Deliveries are not rows of the jobs table (they would fill GET /jobs,
 * which is the account's infrastructure work); the worker runs beside the job runner, where jobs run,
 * and leases its rows the same way (delivery-lease-repo.ts).
 */
export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const concurrency = deps.concurrency ?? 8;
  // A lease outlives the longest attempt, so a live instance never loses one mid-attempt.
  const leases = createDeliveryLeaseRepo({ database: deps.database, instanceId: deps.instanceId, leaseMs: deps.timeoutMs + 30_000 });

  /** The endpoint's failure streak after an attempt; when it has lasted 3 days, the endpoint is disabled. */
  async function afterAttempt(trx: Db, delivery: DeliveryRow, delivered: boolean, at: string): Promise<void> {
    const cutoff = new Date(Date.parse(at) - DISABLE_AFTER_MS).toISOString();
    const disabled = await noteAttemptOnEndpoint(trx, delivery.webhook_id, delivered, at, cutoff);
    if (disabled === undefined) return;
    await giveUpPending(trx, disabled.id, 'the endpoint was disabled');
    await deps.events.record(trx, {
      accountId: disabled.account_id,
      type: 'webhook.disabled',
      actor: systemActor('webhook_delivery'),
      subject: { type: 'webhook', id: disabled.id },
      data: { host: new URL(disabled.url).host, failing_since: disabled.failing_since },
    });
  }

  async function attempt(delivery: DeliveryRow, signal: AbortSignal): Promise<void> {
    const webhook = await leases.webhook(delivery.webhook_id);
    const startedAt = deps.clock.now();
    const started = performance.now();
    const result = webhook
      ? await sendWebhook({
          url: webhook.url,
          secret: open(deps.encryptionKey, webhook.secret_encrypted, webhook.id),
          messageId: delivery.id,
          at: startedAt,
          payload: delivery.payload,
          timeoutMs: deps.timeoutMs,
          policy: deps.policy,
          signal,
        })
      : { statusCode: null, error: 'the endpoint is gone', responseBody: null };
    const at = startedAt.toISOString();
    const delivered = result.error === null;
    const attempts = delivery.attempts + 1;
    const delay = delivered ? null : retryDelay(attempts);
    const outcome: AttemptOutcome = {
      attempt: { at, status_code: result.statusCode, error: result.error, duration_ms: Math.round(performance.now() - started), response_body: result.responseBody },
      retry: delivered ? null : { at: delay === null || !webhook ? null : new Date(startedAt.getTime() + delay).toISOString() },
    };
    const kept = await leases.record(delivery, outcome, (trx) => (webhook ? afterAttempt(trx, delivery, delivered, at) : Promise.resolve()));
    if (!kept) deps.logger.warn({ delivery_id: delivery.id }, 'webhook delivery lease lost; the attempt was not recorded');
  }

  return createClaimLoop<DeliveryRow>({
    what: 'webhook delivery',
    concurrency,
    pollIntervalMs: deps.pollIntervalMs,
    logger: deps.logger,
    noteFault: (error) => deps.database.faults.note(error),
    claim: (free, busy) => leases.claimDue(free, deps.clock.now().toISOString(), busy),
    handBack: (ids) => leases.handBack(ids),
    beforeStart: deps.reclaimAllOnStart ? () => leases.expireAll() : undefined,
    run: (delivery, controller) =>
      attempt(delivery, controller.signal).catch((error: unknown) => {
        if (controller.signal.aborted) return;
        // Left leased: its lease runs out and it is tried again.
        deps.logger.error({ err: error, delivery_id: delivery.id }, 'webhook delivery failed unexpectedly');
      }),
  });
}
