/**
 * The account's audit trail (CONTRACT §7, `GET /events`): every event type, with what it records. One
 * list: the schema of `?type=`, the webhook subscriptions and the OpenAPI document all read it, so an
 * event type cannot exist in one place and be refused in another.
 */
export const EVENT_TYPES = {
  'api_key.created': 'A user created an API key.',
  'api_key.changed': 'A user renamed a key, narrowed its scopes or changed its restrictions.',
  'api_key.rolled': 'A key got a new secret (data: how long the old one lives on).',
  'api_key.old_secret_retired': 'The secret a key was rolled away from stopped working: its new secret was used (retire_old: on_first_use).',
  'api_key.revoked': 'A user revoked a key.',
  'api_key.expiring': 'A key expires soon (raised 7 days and 1 day before expires_at).',
  'api_key.leaked': 'A key was found in public (GitHub secret scanning) and revoked at once.',
  'api_key.canary_used': 'Someone used a canary key (data: client address, user agent, route).',
  'api_key.owner_removed': "A key was revoked because its creator left the organisation or was deleted.",
  'cloud.created': 'A cloud account was connected.',
  'cloud.deleted': 'A cloud account was disconnected.',
  'cluster.created': 'A cluster was requested (its creation job queued).',
  'cluster.deleted': 'A cluster was deleted (its destroy job queued).',
  'app.created': 'An app was created.',
  'app.deleted': 'An app was deleted (its delete job queued).',
  'deploy.created': 'A deploy was started.',
  'billing.plan_changed': "The account's plan changed.",
  'webhook.created': 'A webhook endpoint was added.',
  'webhook.deleted': 'A webhook endpoint was removed.',
  'webhook.disabled': 'A webhook endpoint kept failing for 3 days and was disabled.',
} as const;

export type EventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_TYPES, value);
}

/** What an event is about. */
export type SubjectType = 'api_key' | 'cloud' | 'cluster' | 'app' | 'deploy' | 'billing' | 'webhook';

/**
 * Who made the change, and from where. A user or an API key acting through the API carry the request's
 * client address and user agent; `system` is the server itself (expiry notices, webhook upkeep) or an
 * outside party it trusts by signature (`github_secret_scanning`, `clerk`), named by `id`.
 */
export interface Actor {
  type: 'user' | 'api_key' | 'system';
  id: string;
  clientIp: string | null;
  userAgent: string | null;
}

/** A small JSON object of facts about the change; never a secret. */
export type EventData = Record<string, string | number | boolean | null | readonly string[]>;

export interface EventInput {
  accountId: string;
  type: EventType;
  actor: Actor;
  subject: { type: SubjectType; id: string };
  data?: EventData;
  /** Set when several instances may raise the same event for one fact: it is stored (and delivered) once. */
  dedupeKey?: string;
}

/** An event as `GET /events` and webhook payloads show it. */
export interface EventView {
  id: string;
  type: EventType;
  created_at: string;
  actor: { type: Actor['type']; id: string | null; client_ip: string | null; user_agent: string | null };
  subject: { type: SubjectType; id: string };
  data: EventData;
}
