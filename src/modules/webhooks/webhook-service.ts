import { conflict, notFound, validationFailed, type FieldError } from '../../http/errors.js';
import type { Db } from '../../db/database.js';
import { pageRequest, toPage } from '../../http/pagination.js';
import type { Clock } from '../../lib/clock.js';
import { randomBytes } from 'node:crypto';
import { newId } from '../../lib/ids.js';
import { seal } from '../../lib/secret-box.js';
import type { EventLog } from '../events/event-log.js';
import { isEventType, type Actor, type EventView } from '../events/event-types.js';
import { checkUrl, DestinationError, resolveDestination, type DestinationPolicy } from './webhook-destination.js';
import { ALL_EVENT_TYPES, createWebhookRepo, type AttemptRow, type DeliveryRow, type WebhookRow } from './webhook-repo.js';

export interface WebhookServiceDeps {
  db: Db;
  clock: Clock;
  encryptionKey: Buffer;
  events: Pick<EventLog, 'record'>;
  policy: DestinationPolicy;
}

/** The body every attempt sends (Standard Webhooks' recommended shape); never a secret: events hold none. */
export function payloadOf(type: string, timestamp: string, data: object): string {
  return JSON.stringify({ type, timestamp, data });
}

export function newDeliveryRow(input: { accountId: string; webhookId: string; eventId: string; eventType: string; payload: string; at: string }): DeliveryRow {
  return {
    id: newId('webhookDelivery', Date.parse(input.at)),
    account_id: input.accountId,
    webhook_id: input.webhookId,
    event_id: input.eventId,
    event_type: input.eventType,
    payload: input.payload,
    status: 'pending',
    attempts: 0,
    next_attempt_at: input.at,
    lease_owner: null,
    lease_expires_at: null,
    last_status_code: null,
    last_error: null,
    created_at: input.at,
    delivered_at: null,
  };
}

function presentWebhook(row: WebhookRow, eventTypes: string[]) {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    event_types: eventTypes,
    status: row.disabled_at === null ? ('enabled' as const) : ('disabled' as const),
    failing_since: row.failing_since,
    disabled_at: row.disabled_at,
    created_at: row.created_at,
  };
}

function presentDelivery(row: DeliveryRow, attempts: AttemptRow[]) {
  return {
    id: row.id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    attempts: row.attempts,
    next_attempt_at: row.next_attempt_at,
    last_status_code: row.last_status_code,
    last_error: row.last_error,
    created_at: row.created_at,
    delivered_at: row.delivered_at,
    attempt_log: attempts.map((a) => ({ at: a.at, status_code: a.status_code, error: a.error, duration_ms: a.duration_ms, response_body: a.response_body })),
  };
}

/** `whsec_` + base64 of 32 random bytes: the secret format Standard Webhooks libraries take. */
function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function createWebhookService(deps: WebhookServiceDeps) {
  const repo = createWebhookRepo(deps.db);

  async function mustGet(accountId: string, id: string): Promise<WebhookRow> {
    const row = await repo.get(deps.db, accountId, id);
    if (!row) throw notFound('webhook', id);
    return row;
  }

  return {
    async create(accountId: string, actor: Actor, input: { url: string; event_types: string[]; description?: string | undefined }) {
      const errors: FieldError[] = [];
      input.event_types.forEach((type, index) => {
        if (type !== ALL_EVENT_TYPES && !isEventType(type)) errors.push({ path: `event_types.${index}`, message: `is not an event type (see GET /openapi.json, EventType), nor "*"` });
      });
      try {
        // Refused now rather than at the first delivery: the caller learns at once that it can never work.
        await resolveDestination(checkUrl(input.url, deps.policy), deps.policy);
      } catch (error) {
        if (!(error instanceof DestinationError)) throw error;
        errors.push({ path: 'url', message: error.message });
      }
      if (errors.length > 0) throw validationFailed(errors);
      const types = input.event_types.includes(ALL_EVENT_TYPES) ? [ALL_EVENT_TYPES] : [...new Set(input.event_types)].sort();

      const now = deps.clock.now();
      const id = newId('webhook', now.getTime());
      const secret = newSecret();
      const row: WebhookRow = {
        id,
        account_id: accountId,
        url: input.url,
        description: input.description ?? null,
        secret_encrypted: seal(deps.encryptionKey, secret, id),
        created_at: now.toISOString(),
        failing_since: null,
        disabled_at: null,
        deleted_at: null,
      };
      await deps.db.transaction().execute(async (trx) => {
        await repo.insert(trx, row, types);
        await deps.events.record(trx, { accountId, type: 'webhook.created', actor, subject: { type: 'webhook', id }, data: { host: new URL(row.url).host, event_types: types } });
      });
      return { ...presentWebhook(row, types), secret };
    },

    async list(accountId: string, query: { limit?: number | undefined; cursor?: string | undefined }) {
      const page = pageRequest(query);
      const rows = await repo.list(accountId, page);
      const types = await repo.eventTypes(rows.map((row) => row.id));
      return toPage(rows, page, (row) => presentWebhook(row, types.get(row.id) ?? []));
    },

    async remove(accountId: string, id: string, actor: Actor): Promise<void> {
      await deps.db.transaction().execute(async (trx) => {
        const row = await repo.get(trx, accountId, id);
        if (!row || !(await repo.remove(trx, accountId, id, deps.clock.now().toISOString()))) throw notFound('webhook', id);
        await deps.events.record(trx, { accountId, type: 'webhook.deleted', actor, subject: { type: 'webhook', id }, data: { host: new URL(row.url).host } });
      });
    },

    /** Queues a `webhook.test` message to this endpoint only (no event is stored: nothing happened to the account). */
    async sendTest(accountId: string, id: string, actor: Actor) {
      const webhook = await mustGet(accountId, id);
      if (webhook.disabled_at !== null) throw conflict('The endpoint is disabled; create a new one once it works again.');
      const at = deps.clock.now().toISOString();
      const eventId = newId('event', Date.parse(at));
      const data = { webhook_id: id, message: 'A test event from SkaleData.', requested_by: actor.id };
      const row = newDeliveryRow({ accountId, webhookId: id, eventId, eventType: 'webhook.test', payload: payloadOf('webhook.test', at, data), at });
      await repo.insertDelivery(deps.db, row);
      return presentDelivery(row, []);
    },

    async deliveries(accountId: string, id: string, query: { limit?: number | undefined; cursor?: string | undefined }) {
      await mustGet(accountId, id);
      const page = pageRequest(query);
      const rows = await repo.listDeliveries(accountId, id, page);
      const attempts = await repo.attempts(rows.map((row) => row.id));
      return toPage(rows, page, (row) => presentDelivery(row, attempts.get(row.id) ?? []));
    },

    /** The event log's fan-out: one delivery per subscribed endpoint, in the event's transaction. */
    async fanOut(trx: Db, event: EventView & { accountId: string }): Promise<void> {
      const { accountId, ...view } = event;
      const payload = payloadOf(view.type, view.created_at, view);
      await repo.fanOut(trx, { id: view.id, accountId, type: view.type }, (webhookId) =>
        newDeliveryRow({ accountId, webhookId, eventId: view.id, eventType: view.type, payload, at: view.created_at }),
      );
    },
  };
}
