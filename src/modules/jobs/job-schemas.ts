import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { IdParam, Nullable, Timestamp } from '../../http/schemas.js';
import { JOB_RESOURCE_TYPES, JOB_STATUSES, JOB_TYPES } from './job-types.js';

const Step = Type.Object({
  name: Type.String(),
  status: Type.String({ description: 'pending, running, succeeded, failed, skipped or canceled' }),
  started_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
}, { title: 'JobStep' });

const LogLine = Type.Object({ at: Timestamp, level: Type.String(), step: Nullable(Type.String()), message: Type.String() }, { title: 'JobLogLine' });

const jobProperties = {
  id: Type.String(),
  type: Type.String({ enum: [...JOB_TYPES] }),
  status: Type.String({ enum: [...JOB_STATUSES] }),
  resource_type: Type.String(),
  resource_id: Type.String(),
  cluster_id: Nullable(Type.String()),
  steps: Type.Array(Step),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  cancel_requested_at: Nullable(Timestamp),
  attempts: Type.Integer(),
  created_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
  started_at: Nullable(Timestamp),
  finished_at: Nullable(Timestamp),
};

export const Job = Type.Object(jobProperties, { title: 'Job' });
export const JobWithLogs = Type.Object({ ...jobProperties, logs: Type.Array(LogLine) }, { title: 'JobWithLogs' });

export const JobListQuery = Type.Object(
  {
    ...PageQuery,
    resource_id: Type.Optional(IdParam),
    resource_type: Type.Optional(Type.Enum([...JOB_RESOURCE_TYPES])),
    status: Type.Optional(Type.Enum([...JOB_STATUSES])),
    type: Type.Optional(Type.Enum([...JOB_TYPES])),
  },
  { additionalProperties: false },
);
