import { Type } from 'typebox';
import { MAX_TOKEN_TTL_SECONDS } from '../signing-keys/signing-key-store.js';
import { Nullable, Timestamp } from '../../http/schemas.js';

export const RegistryTokenBody = Type.Object(
  {
    actions: Type.Optional(
      Type.Array(Type.Union([Type.Literal('pull'), Type.Literal('push')]), {
        minItems: 1,
        maxItems: 2,
        uniqueItems: true,
        description: 'What the token allows on the repository; defaults to ["pull", "push"].',
      }),
    ),
  },
  { title: 'RegistryTokenRequest', additionalProperties: false },
);

export const RegistryToken = Type.Object({
  token: Type.String({ description: 'A JWT in the Docker registry token format; use it as the registry password.' }),
  access_token: Type.String({ description: 'The same token, under the name OAuth2 clients look for.' }),
  expires_in: Type.Integer({ description: 'Seconds until the token expires.' }),
  issued_at: Timestamp,
  expires_at: Timestamp,
  registry: Type.String({ description: 'Registry host to log in and push to.' }),
  repository: Type.String({ description: "The app's repository; images are <registry>/<repository>:<tag>." }),
}, { title: 'RegistryToken' });

export const DevCredentialsBody = Type.Object(
  {
    ttl_seconds: Type.Optional(
      Type.Integer({ minimum: 60, maximum: MAX_TOKEN_TTL_SECONDS, description: `Token lifetime (default and maximum ${MAX_TOKEN_TTL_SECONDS} s).` }),
    ),
  },
  { title: 'DevCredentialsRequest', additionalProperties: false },
);

export const DevCredentials = Type.Object({
  id: Type.String({ description: 'The recorded issuance (also the token `jti`).' }),
  app_id: Type.String(),
  expires_at: Timestamp,
  token: Type.String({ description: "A JWT scoped to this app (aud `skaledata:app:<id>`); verifiable with /.well-known/jwks.json." }),
  connection: Type.Object({
    api_url: Type.String(),
    cluster_endpoint: Nullable(Type.String()),
    namespace: Type.String(),
    app_name: Type.String(),
    type: Type.Union([Type.Literal('airflow'), Type.Literal('service')]),
    airflow_url: Type.Optional(Nullable(Type.String())),
  }),
}, { title: 'DevCredentials' });
