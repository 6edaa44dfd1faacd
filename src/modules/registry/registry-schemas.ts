import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';
import { MAX_SCOPE_LENGTH, MAX_SCOPES } from './registry-scope.js';

const ScopeValue = Type.String({ maxLength: MAX_SCOPE_LENGTH * MAX_SCOPES });

/** What docker, podman and skopeo send to a token realm (the Docker registry token protocol). */
export const RegistryTokenQuery = Type.Object({
  service: Type.String({ minLength: 1, maxLength: 255, description: 'The registry asking: its `auth.token.service` setting, equal to REGISTRY_SERVICE.' }),
  scope: Type.Optional(
    Type.Union([ScopeValue, Type.Array(ScopeValue, { maxItems: MAX_SCOPES })], {
      description: '`repository:<namespace>/<app>:pull,push`, repeated or space-separated; none when a client only logs in.',
    }),
  ),
  account: Type.Optional(Type.String({ maxLength: 255, description: 'The user name the client logged in with; informational.' })),
  client_id: Type.Optional(Type.String({ maxLength: 255 })),
  offline_token: Type.Optional(Type.String({ maxLength: 10 })),
}, { title: 'RegistryTokenQuery' });

export const RealmToken = Type.Object({
  token: Type.String({ description: 'A JWT in the Docker registry token format, granting the allowed part of the asked scope.' }),
  access_token: Type.String({ description: 'The same token, under the name OAuth2 clients look for.' }),
  expires_in: Type.Integer({ description: 'Seconds until the token expires.' }),
  issued_at: Timestamp,
}, { title: 'RegistryRealmToken' });
