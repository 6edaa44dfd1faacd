import type { Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import { newestFirst, type KeysetPage } from '../../db/keyset.js';
import type { WebhookAttemptTable, WebhookDeliveryTable, WebhookTable } from '../../db/schema.js';

export type WebhookRow = Selectable<WebhookTable>;
export type DeliveryRow = Selectable<WebhookDeliveryTable>;
export type AttemptRow = Selectable<WebhookAttemptTable>;

/** The subscription that stands for every event type, present and future. */
export const ALL_EVENT_TYPES = '*';

/** The SQL of endpoints, their subscriptions and their deliveries' history (the worker's side is delivery-lease-repo.ts). */
export function createWebhookRepo(db: Db) {
  return {
    async insert(trx: Db, row: WebhookRow, eventTypes: readonly string[]): Promise<void> {
      await trx.insertInto('webhooks').values(row).execute();
      await trx
        .insertInto('webhook_event_types')
        .values(eventTypes.map((eventType) => ({ webhook_id: row.id, event_type: eventType })))
        .execute();
    },

    list: (accountId: string, page: KeysetPage) =>
      newestFirst(db.selectFrom('webhooks').selectAll().where('account_id', '=', accountId).where('deleted_at', 'is', null), 'id', page).execute(),

    get: (q: Db, accountId: string, id: string) =>
      q.selectFrom('webhooks').selectAll().where('account_id', '=', accountId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst(),

    /** The event types of each endpoint, by endpoint id. */
    async eventTypes(webhookIds: readonly string[]): Promise<Map<string, string[]>> {
      const byId = new Map<string, string[]>(webhookIds.map((id) => [id, []]));
      if (webhookIds.length === 0) return byId;
      const rows = await db.selectFrom('webhook_event_types').selectAll().where('webhook_id', 'in', [...webhookIds]).orderBy('event_type').execute();
      for (const row of rows) byId.get(row.webhook_id)?.push(row.event_type);
      return byId;
    },

    /** Removes the endpoint; what it had still to receive is given up. False when there was none. */
    async remove(trx: Db, accountId: string, id: string, at: string): Promise<boolean> {
      const result = await trx.updateTable('webhooks').set({ deleted_at: at }).where('account_id', '=', accountId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await giveUpPending(trx, id, 'the endpoint was deleted');
      return true;
    },

    /**
     * Queues `event` for every live, enabled endpoint of its account subscribed to its type (or to `*`),
     * in the event's transaction. `newDelivery` makes each row: its id is the message's `webhook-id`.
     */
    async fanOut(trx: Db, event: { id: string; accountId: string; type: string }, newDelivery: (webhookId: string) => DeliveryRow): Promise<number> {
      const targets = await trx
        .selectFrom('webhooks')
        .innerJoin('webhook_event_types', 'webhook_event_types.webhook_id', 'webhooks.id')
        .select('webhooks.id')
        .distinct()
        .where('webhooks.account_id', '=', event.accountId)
        .where('webhooks.deleted_at', 'is', null)
        .where('webhooks.disabled_at', 'is', null)
        .where('webhook_event_types.event_type', 'in', [event.type, ALL_EVENT_TYPES])
        .execute();
      if (targets.length === 0) return 0;
      await trx
        .insertInto('webhook_deliveries')
        .values(targets.map((target) => newDelivery(target.id)))
        .execute();
      return targets.length;
    },

    async insertDelivery(trx: Db, row: DeliveryRow): Promise<void> {
      await trx.insertInto('webhook_deliveries').values(row).execute();
    },

    listDeliveries: (accountId: string, webhookId: string, page: KeysetPage) =>
      newestFirst(db.selectFrom('webhook_deliveries').selectAll().where('account_id', '=', accountId).where('webhook_id', '=', webhookId), 'id', page).execute(),

    /** Every attempt of these deliveries, oldest first, by delivery id. */
    async attempts(deliveryIds: readonly string[]): Promise<Map<string, AttemptRow[]>> {
      const byId = new Map<string, AttemptRow[]>(deliveryIds.map((id) => [id, []]));
      if (deliveryIds.length === 0) return byId;
      const rows = await db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', [...deliveryIds]).orderBy('delivery_id').orderBy('seq').execute();
      for (const row of rows) byId.get(row.delivery_id)?.push(row);
      return byId;
    },
  };
}

/** Pending deliveries to an endpoint that will never be tried again (deleted or disabled), marked as given up. */
export async function giveUpPending(trx: Db, webhookId: string, reason: string): Promise<void> {
  await trx
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', next_attempt_at: null, last_error: reason })
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .execute();
}

/**
 * The endpoint's failure streak after an attempt: cleared by a success, started by the first failure.
 * Returns the endpoint if this failure disabled it (failing since `cutoff` or earlier), else undefined.
 */
export async function noteAttemptOnEndpoint(trx: Db, webhookId: string, delivered: boolean, at: string, cutoff: string) {
  if (delivered) {
    await trx.updateTable('webhooks').set({ failing_since: null }).where('id', '=', webhookId).execute();
    return undefined;
  }
  await trx.updateTable('webhooks').set({ failing_since: at }).where('id', '=', webhookId).where('failing_since', 'is', null).execute();
  return trx
    .updateTable('webhooks')
    .set({ disabled_at: at })
    .where('id', '=', webhookId)
    .where('disabled_at', 'is', null)
    .where('failing_since', '<=', cutoff)
    .returning(['id', 'account_id', 'url', 'failing_since'])
    .executeTakeFirst();
}
