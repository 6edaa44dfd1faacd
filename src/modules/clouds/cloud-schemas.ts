import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { DnsLabel, Timestamp } from '../../http/schemas.js';
import { PROVIDERS } from './cloud-credentials.js';

export const Cloud = Type.Object({
  id: Type.String(),
  name: Type.String(),
  provider: Type.String({ enum: [...PROVIDERS] }),
  region: Type.String(),
  credentials: Type.Object(
    { configured: Type.Boolean(), hint: Type.String() },
    { description: 'Credentials are write-only; this says only that they are set and which ones.' },
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { title: 'Cloud' });

const Credentials = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), {
  maxProperties: 8,
  description:
    'aws: {access_key_id, secret_access_key, session_token?} or {role_arn, external_id?}; ' +
    'gcp: {service_account_key}; azure: {tenant_id, client_id, client_secret, subscription_id}',
});

const Region = Type.String({ minLength: 2, maxLength: 40 });

export const CreateCloudBody = Type.Object(
  { name: DnsLabel, provider: Type.Enum([...PROVIDERS]), region: Region, credentials: Credentials },
  { title: 'CreateCloudRequest', additionalProperties: false },
);

export const UpdateCloudBody = Type.Object(
  { name: Type.Optional(DnsLabel), region: Type.Optional(Region), credentials: Type.Optional(Credentials) },
  { title: 'UpdateCloudRequest', additionalProperties: false, minProperties: 1 },
);

export const CloudListQuery = Type.Object(
  { ...PageQuery, provider: Type.Optional(Type.Enum([...PROVIDERS])) },
  { additionalProperties: false },
);
