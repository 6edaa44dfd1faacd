import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { Nullable, Timestamp } from '../../http/schemas.js';
import { EVENT_TYPE_NAMES } from '../events/event-types.js';
import { MAX_URL_LENGTH } from './webhook-destination.js';

export const CreateWebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH, description: 'Where events are POSTed: https, to a public address (checked after DNS resolution).' }),
    event_types: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      minItems: 1,
      maxItems: EVENT_TYPE_NAMES.length + 1,
      description: 'The event types to receive (see EventType), or `["*"]` for all of them, including types added later.',
    }),
    description: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { title: 'CreateWebhookRequest', additionalProperties: false },
);

const webhookFields = {
  id: Type.String(),
  url: Type.String(),
  description: Nullable(Type.String()),
  event_types: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], { description: '`disabled` after every delivery failed for 3 days; a disabled endpoint receives nothing more.' }),
  failing_since: Nullable({ ...Timestamp, description: 'When the current run of failed deliveries began; null while deliveries succeed.' }),
  disabled_at: Nullable(Timestamp),
  created_at: Timestamp,
};

export const Webhook = Type.Object(webhookFields, { title: 'Webhook' });

export const CreatedWebhook = Type.Object(
  { ...webhookFields, secret: Type.String({ description: 'The `whsec_` signing secret (Standard Webhooks). Shown only in this answer: keep it now.' }) },
  { title: 'CreatedWebhook' },
);

export const WebhookAttempt = Type.Object(
  {
    at: Timestamp,
    status_code: Nullable(Type.Integer({ description: 'The endpoint\'s status; null when no answer came (refused destination, connection error, timeout).' })),
    error: Nullable(Type.String({ description: 'Why the attempt failed; null when it succeeded (2xx).' })),
    duration_ms: Type.Integer(),
    response_body: Nullable(Type.String({ description: 'The first 1 KiB of the answer.' })),
  },
  { title: 'WebhookAttempt' },
);

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ description: 'The `webhook-id` header: the same on every retry of this event to this endpoint.' }),
    event_id: Type.String(),
    event_type: Type.String(),
    status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')], { description: '`failed`: given up (10 attempts, or the endpoint was deleted or disabled).' }),
    attempts: Type.Integer(),
    next_attempt_at: Nullable({ ...Timestamp, description: 'When the next attempt is due; null once delivered or given up.' }),
    last_status_code: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    created_at: Timestamp,
    delivered_at: Nullable(Timestamp),
    attempt_log: Type.Array(WebhookAttempt, { description: 'Every attempt, oldest first.' }),
  },
  { title: 'WebhookDelivery' },
);

export const WebhookListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
