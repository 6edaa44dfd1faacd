import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { IdParam, Nullable, Timestamp } from '../../http/schemas.js';
import { DEPLOY_STATUSES } from './deploy-repo.js';
import { ImageReferenceField } from '../apps/app-schemas.js';
import { Job } from '../jobs/job-schemas.js';

export const Deploy = Type.Object({
  id: Type.String(),
  app_id: Type.String(),
  image: Type.String(),
  status: Type.String({ enum: [...DEPLOY_STATUSES] }),
  job_id: Nullable(Type.String()),
  previous_image: Nullable(Type.String({ description: 'The image that was serving when this deploy was requested.' })),
  error: Nullable(Type.String({ description: 'Why the rollout failed, was canceled or superseded.' })),
  created_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  finished_at: Nullable(Timestamp),
}, { title: 'Deploy' });

export const DeployAccepted = Type.Object({ deploy: Deploy, job: Job }, { title: 'DeployAccepted' });

export const CreateDeployBody = Type.Object({ image: ImageReferenceField }, { title: 'CreateDeployRequest', additionalProperties: false });

export const DeployParams = Type.Object({ id: IdParam, deploy: IdParam });

export const DeployListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
