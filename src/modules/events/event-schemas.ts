import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { IdParam, Nullable, Timestamp } from '../../http/schemas.js';
import { EVENT_TYPE_NAMES, EVENT_TYPES, type EventType } from './event-types.js';

const typeList = EVENT_TYPE_NAMES.map((name) => `- \`${name}\`: ${EVENT_TYPES[name]}`).join('\n');

const eventTypeName = (extra: Record<string, string>) => Type.Unsafe<EventType>({ type: 'string', enum: EVENT_TYPE_NAMES, ...extra });
export const EventTypeName = eventTypeName({ title: 'EventType', description: `One of:\n${typeList}` });

export const Event = Type.Object(
  {
    id: Type.String(),
    type: EventTypeName,
    created_at: Timestamp,
    actor: Type.Object(
      {
        type: Type.Union([Type.Literal('user'), Type.Literal('api_key'), Type.Literal('system')]),
        id: Nullable(Type.String({ description: 'The user id, the API key id, or for `system` what acted (`expiry_notices`, `github_secret_scanning`, `clerk`, `webhook_delivery`, `canary`: a canary key was used, from the address and user agent shown).' })),
        client_ip: Nullable(Type.String()),
        user_agent: Nullable(Type.String()),
      },
      { title: 'EventActor' },
    ),
    subject: Type.Object({ type: Type.String(), id: Type.String() }, { title: 'EventSubject', description: 'What the event is about.' }),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'A few facts about the change (never a secret).' }),
  },
  { title: 'Event' },
);

export const EventQuery = Type.Object(
  {
    ...PageQuery,
    type: Type.Optional(eventTypeName({ description: 'Only events of this type (see EventType).' })),
    api_key_id: Type.Optional({ ...IdParam, description: 'Only events about this key, or done by it.' }),
    since: Type.Optional({ ...Timestamp, description: 'Only events at or after this instant.' }),
  },
  { additionalProperties: false },
);
