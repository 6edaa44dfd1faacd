import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { DnsLabel, IdParam, Nullable, Timestamp } from '../../http/schemas.js';
import { MAX_IMAGE_REFERENCE_LENGTH } from '../../lib/image-reference.js';
import { Job } from '../jobs/job-schemas.js';
import { APP_STATUSES, APP_TYPES } from './app-repo.js';

export const MAX_REPLICAS = 20;

/** Checked in full by the service (lib/image-reference.ts); the schema only bounds it. */
export const ImageReferenceField = Type.String({
  minLength: 1,
  maxLength: MAX_IMAGE_REFERENCE_LENGTH,
  description: 'OCI image reference with a tag or digest: [registry[:port]/]repository[:tag][@sha256:<64 hex>]',
  examples: ['registry.example.com/team/etl:1.4.2'],
});

const AppConfigResponse = Type.Object({
  replicas: Type.Integer(),
  port: Type.Optional(Type.Integer({ description: 'Service apps only.' })),
});

export const App = Type.Object({
  id: Type.String(),
  cluster_id: Type.String(),
  name: Type.String(),
  type: Type.String({ enum: [...APP_TYPES] }),
  image: Nullable(Type.String({ description: 'The image serving now (null before the first successful deploy).' })),
  status: Type.String({ enum: [...APP_STATUSES] }),
  status_reason: Nullable(Type.String()),
  config: AppConfigResponse,
  current_deploy_id: Nullable(Type.String({ description: 'The deploy whose image is serving.' })),
  active_job_id: Nullable(Type.String({ description: 'The job that currently holds the app; other operations get 409 until it ends.' })),
  created_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: Nullable(Timestamp),
}, { title: 'App' });

export const AppAccepted = Type.Object({ app: App, job: Job }, { title: 'AppAccepted' });

const Replicas = Type.Integer({ minimum: 1, maximum: MAX_REPLICAS });
const Port = Type.Integer({ minimum: 1, maximum: 65535, description: 'Service apps only.' });

export const CreateAppBody = Type.Object(
  {
    name: DnsLabel,
    cluster_id: IdParam,
    type: Type.Enum([...APP_TYPES]),
    image: Type.Optional(ImageReferenceField),
    config: Type.Optional(Type.Object({ replicas: Type.Optional(Replicas), port: Type.Optional(Port) }, { additionalProperties: false })),
  },
  { title: 'CreateAppRequest', additionalProperties: false },
);

export const UpdateAppBody = Type.Object(
  {
    name: Type.Optional(DnsLabel),
    config: Type.Optional(
      Type.Object({ replicas: Type.Optional(Replicas), port: Type.Optional(Port) }, { additionalProperties: false, minProperties: 1 }),
    ),
  },
  { title: 'UpdateAppRequest', additionalProperties: false, minProperties: 1 },
);

export const AppListQuery = Type.Object(
  {
    ...PageQuery,
    cluster_id: Type.Optional(IdParam),
    type: Type.Optional(Type.Enum([...APP_TYPES])),
    status: Type.Optional(Type.Enum([...APP_STATUSES], { description: 'Deleted apps are listed only when asked for with status=deleted.' })),
  },
  { additionalProperties: false },
);

const CheckStatus = Type.Enum(['pass', 'warn', 'fail', 'unknown']);

export const AppHealth = Type.Object({
  app_id: Type.String(),
  status: Type.Enum(['healthy', 'degraded', 'unhealthy', 'unknown']),
  checks: Type.Array(Type.Object({ name: Type.String(), status: CheckStatus, message: Type.String(), checked_at: Timestamp })),
  checked_at: Timestamp,
}, { title: 'AppHealth' });
