import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { Nullable, Timestamp } from '../../http/schemas.js';

const Kind = Type.Union([Type.Literal('refused'), Type.Literal('write'), Type.Literal('reads')], {
  description: '`refused`: one request turned away (401, 403, 429); `write`: one request other than GET/HEAD; `reads`: the other reads of one minute, route and status, counted. Past 100 refusals and writes of a key in one minute, the rest of that minute are counted too (`count` > 1, `minute` set, no address).',
});

export const ApiKeyActivity = Type.Object(
  {
    id: Type.String(),
    at: Timestamp,
    kind: Kind,
    method: Type.String(),
    route: Type.String({ description: 'The route template, e.g. `/clusters/{id}`.' }),
    status: Type.Integer(),
    code: Nullable(Type.String({ description: 'The error code of the answer, if it was an error.' })),
    missing_scope: Nullable(Type.String({ description: 'insufficient_scope: the scope the key lacked.' })),
    client_ip: Nullable(Type.String({ description: 'The client address (null on a roll-up of reads).' })),
    user_agent: Nullable(Type.String({ description: 'The client’s User-Agent, cut at 256 characters (null on a roll-up of reads).' })),
    count: Type.Integer({ minimum: 1, description: '1, except on a roll-up: the requests of that minute.' }),
    minute: Nullable(Type.String({ format: 'date-time', description: 'A roll-up: the start of its minute (UTC); null otherwise.' })),
  },
  { title: 'ApiKeyActivity' },
);

export const ActivityQuery = Type.Object(
  { ...PageQuery, kind: Type.Optional(Type.Union([Type.Literal('refused'), Type.Literal('write'), Type.Literal('reads')], { description: 'Only entries of this kind.' })) },
  { additionalProperties: false },
);

export const MAX_USAGE_DAYS = 30;

export const UsageQuery = Type.Object(
  { days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_USAGE_DAYS, default: MAX_USAGE_DAYS, description: 'The window: the last N days (activity is kept 30).' })) },
  { additionalProperties: false },
);

const Counts = {
  requests: Type.Integer({ minimum: 0 }),
  succeeded: Type.Integer({ minimum: 0, description: 'Answered with a status below 400.' }),
  refused: Type.Integer({ minimum: 0, description: 'Turned away: 401, 403 or 429.' }),
};

export const ApiKeyUsage = Type.Object(
  {
    key_id: Type.String(),
    days: Type.Integer(),
    since: Timestamp,
    requests: Type.Integer({ minimum: 0 }),
    routes: Type.Array(
      Type.Object(
        { method: Type.String(), route: Type.String(), required_scope: Nullable(Type.String({ description: 'The scope an API key needs for this route; null when none does.' })), ...Counts },
        { title: 'ApiKeyRouteUsage' },
      ),
    ),
    scopes: Type.Array(Type.Object({ scope: Type.String(), ...Counts }, { title: 'ApiKeyScopeUsage' }), { description: 'Requests per scope their route needs.' }),
    scopes_never_used: Type.Array(Type.String(), { description: "The key's scopes that let no successful request through in the window." }),
    suggested_scopes: Type.Array(Type.String(), {
      description: 'The smallest scope set that would have allowed every successful request in the window (`["full"]` if one needed full; `[]` if none needed a scope).',
    }),
    evidence: Type.Array(
      Type.Object({ scope: Type.String(), routes: Type.Array(Type.String(), { description: '`METHOD /route/{template}` of each successful request that needed the scope.' }) }, { title: 'ApiKeyScopeEvidence' }),
      { description: 'For each suggested scope, the routes that needed it.' },
    ),
  },
  { title: 'ApiKeyUsage' },
);
