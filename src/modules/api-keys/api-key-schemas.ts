import { Type } from 'typebox';
import { SCOPES } from '../../auth/scopes.js';
import { DisplayName, Nullable, Timestamp } from '../../http/schemas.js';

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
}, { title: 'ApiKey' });

export const ApiKeyWithSecret = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ description: 'The secret. Shown in this response only; store it now.' }),
}, { title: 'ApiKeyCreated' });

export const CreateApiKeyBody = Type.Object(
  {
    name: DisplayName(100),
    scopes: Type.Optional(Type.Array(Type.Enum([...SCOPES]), { minItems: 1, maxItems: 16 })),
    expires_at: Type.Optional(Timestamp),
  },
  { title: 'CreateApiKeyRequest', additionalProperties: false },
);

export const RollApiKeyBody = Type.Object(
  {
    expires_in_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 7 * 24 * 3600,
        description: 'How long the old secret keeps working (0, the default, refuses it at once).',
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
  },
  { title: 'UpdateApiKeyRequest', additionalProperties: false, minProperties: 1 },
);
