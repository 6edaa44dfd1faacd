import { Type } from 'typebox';
import { MAX_ALLOWED_IPS } from '../../auth/ip-allowlist.js';
import { MAX_FENCED_RESOURCES } from '../../auth/resource-fence.js';
import { RATE_LIMIT_BOUNDS } from '../../auth/rate-limits.js';
import { SCOPES } from '../../auth/scopes.js';
import { DisplayName, IdParam, Nullable, Timestamp } from '../../http/schemas.js';

export const ApiKey = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  prefix: Type.String({ description: 'The first characters of the key, for recognising it.' }),
  last_four: Type.String(),
  created_at: Timestamp,
  created_by: Type.String({ description: 'Id of the user who created the key.' }),
  last_used_at: Nullable(Timestamp),
  expires_at: Nullable(Timestamp),
  revoked_at: Nullable(Timestamp),
  revoked_reason: Nullable(
    Type.Union([Type.Literal('revoked'), Type.Literal('leaked'), Type.Literal('owner_removed')], {
      description: 'Why the key was revoked: by a user (`revoked`), found in public by GitHub secret scanning (`leaked`), or its creator left the organisation or was deleted (`owner_removed`); null while live.',
    }),
  ),
  allowed_ips: Nullable(Type.Array(Type.String(), { description: 'The addresses (CIDRs) the key may be used from; null = any.' })),
  resources: Nullable(
    Type.Object(
      { clusters: Type.Array(Type.String()), apps: Type.Array(Type.String()) },
      { title: 'ApiKeyResources', description: 'The only clusters and apps the key may see and touch (an app comes with its cluster); null = the whole account.' },
    ),
  ),
  scope_expires_at: Nullable(
    Type.Record(Type.String(), Timestamp, { description: 'Scopes that lapse before the key: scope → the instant it stops being held; null = none.' }),
  ),
  rate_limit: Nullable(
    Type.Object(
      { requests: Type.Integer(), per_seconds: Type.Integer() },
      { title: 'ApiKeyRateLimit', description: "The key's own rate limit; null = the server default (RATE_LIMIT_DEFAULT, which may be none)." },
    ),
  ),
  canary: Type.Boolean({ description: 'A canary (tripwire) key: every use is answered like an unknown key (401 invalid_token) and raises the event api_key.canary_used. Set at creation only.' }),
}, { title: 'ApiKey' });

/** `resources` as a request gives it: some of the account's clusters and/or apps; null = the whole account. */
const FencedIds = (what: string) =>
  Type.Optional(Type.Array(IdParam, { maxItems: MAX_FENCED_RESOURCES, uniqueItems: true, description: `Ids of the account's ${what} (at most ${MAX_FENCED_RESOURCES}).` }));
const Resources = Nullable(
  Type.Object(
    { clusters: FencedIds('clusters'), apps: FencedIds('apps') },
    {
      title: 'ApiKeyResourcesRequest',
      additionalProperties: false,
      minProperties: 1,
      description:
        'Limits the key to these clusters (with their apps, node pools, pods and jobs) and apps (with their deploys, DAGs and jobs). Other resources answer 404; creating clusters or clouds, changing clouds or the GitHub integration, or creating an app on another cluster gets 403 resource_not_allowed. null = the whole account.',
    },
  ),
);

/** `scope_expires_at` as a request gives it: some of the key's scopes, each with the instant it lapses. */
const ScopeExpiresAt = Nullable(
  Type.Object(Object.fromEntries(SCOPES.map((name) => [name, Type.Optional(Timestamp)])), {
    title: 'ScopeExpiresAtRequest',
    additionalProperties: false,
    minProperties: 1,
    description: "Scopes the key holds that lapse before the key: scope → a future instant. After it, the scope's routes get the seed's 403 `API key missing required scope: <scope>`. null = none.",
  }),
);

const { requests: REQUESTS, perSeconds: PER_SECONDS } = RATE_LIMIT_BOUNDS;

/** `rate_limit` as a request gives it: N requests per S seconds; null = the server default. */
const RateLimitInput = Nullable(
  Type.Object(
    {
      requests: Type.Integer({ minimum: REQUESTS.min, maximum: REQUESTS.max, description: `Requests allowed per window (${REQUESTS.min}-${REQUESTS.max}).` }),
      per_seconds: Type.Integer({ minimum: PER_SECONDS.min, maximum: PER_SECONDS.max, description: `The window in seconds (${PER_SECONDS.min}-${PER_SECONDS.max}).` }),
    },
    {
      title: 'ApiKeyRateLimitRequest',
      additionalProperties: false,
      description: 'At most `requests` per `per_seconds` seconds for this key (beyond: 429 rate_limited); null = the server default.',
    },
  ),
);

/** `allowed_ips` as a request gives it: 1 to 50 addresses or CIDRs, IPv4 or IPv6; null = any address. */
const AllowedIps = Nullable(
  Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
    minItems: 1,
    maxItems: MAX_ALLOWED_IPS,
    description: `Where the key may be used from: 1 to ${MAX_ALLOWED_IPS} IPv4/IPv6 addresses or CIDRs (e.g. 203.0.113.0/24); null = any. Elsewhere it gets 403 ip_not_allowed.`,
  }),
);

export const ApiKeyWithSecret = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ description: 'The secret. Shown in this response only; store it now.' }),
}, { title: 'ApiKeyCreated' });

export const CreateApiKeyBody = Type.Object(
  {
    name: DisplayName(100),
    scopes: Type.Optional(Type.Array(Type.Enum([...SCOPES]), { minItems: 1, maxItems: 16 })),
    expires_at: Type.Optional(Timestamp),
    allowed_ips: Type.Optional(AllowedIps),
    resources: Type.Optional(Resources),
    scope_expires_at: Type.Optional(ScopeExpiresAt),
    rate_limit: Type.Optional(RateLimitInput),
    canary: Type.Optional(
      Type.Boolean({
        description:
          'true: a tripwire key to plant where nobody should find it. Every use answers exactly like an unknown key (401 invalid_token) and raises api_key.canary_used with the address, user agent and route (at most one event per key, client address and minute). Cannot be changed later.',
      }),
    ),
  },
  { title: 'CreateApiKeyRequest', additionalProperties: false },
);

/** The longest a rolled-away secret keeps working, and the grace of an on_first_use roll that names none. */
export const ROLL_GRACE_MAX_SECONDS = 7 * 24 * 3600;

export const RollApiKeyBody = Type.Object(
  {
    expires_in_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: ROLL_GRACE_MAX_SECONDS,
        description: 'How long the old secret keeps working (0, the default, refuses it at once; with retire_old on_first_use the default is 7 days).',
      }),
    ),
    retire_old: Type.Optional(
      Type.Literal('on_first_use', {
        description:
          'on_first_use: the old secret also stops working as soon as the new one is first used (on every instance within 1 s), so a deploy can switch over without downtime. The grace (expires_in_seconds, default 7 days) still bounds it.',
      }),
    ),
  },
  { title: 'RollApiKeyRequest', additionalProperties: false },
);

export const UpdateApiKeyBody = Type.Object(
  {
    name: Type.Optional(DisplayName(100)),
    scopes: Type.Optional(
      Type.Array(Type.Enum([...SCOPES]), {
        minItems: 1,
        maxItems: 16,
        description: "The key's new scopes: only narrower (each one held now, or anything for a `full` key). Widening needs a new key.",
      }),
    ),
    allowed_ips: Type.Optional(AllowedIps),
    resources: Type.Optional(Resources),
    scope_expires_at: Type.Optional(ScopeExpiresAt),
    rate_limit: Type.Optional(RateLimitInput),
  },
  { title: 'UpdateApiKeyRequest', additionalProperties: false, minProperties: 1 },
);
