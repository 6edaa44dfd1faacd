import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { DnsLabel, IdParam, Nullable, Timestamp } from '../../http/schemas.js';
import { Job } from '../jobs/job-schemas.js';

export const NODE_POOL_STATUSES = ['provisioning', 'running', 'resizing', 'deleting', 'deleted', 'failed'] as const;
const MAX_NODES = 100;

export const NodePool = Type.Object({
  id: Type.String(),
  cluster_id: Type.String(),
  name: Type.String(),
  instance_type: Type.String(),
  min_size: Type.Integer(),
  max_size: Type.Integer(),
  desired_size: Type.Integer(),
  current_size: Type.Integer(),
  status: Type.String({ enum: [...NODE_POOL_STATUSES] }),
  status_reason: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: Nullable(Timestamp),
}, { title: 'NodePool' });

export const NodePoolAccepted = Type.Object({ node_pool: NodePool, job: Job }, { title: 'NodePoolAccepted' });

const Size = Type.Integer({ minimum: 0, maximum: MAX_NODES });

export const CreateNodePoolBody = Type.Object(
  {
    name: DnsLabel,
    instance_type: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'e.g. m6i.large, e2-standard-4, Standard_D4s_v5' }),
    min_size: Size,
    max_size: Type.Integer({ minimum: 1, maximum: MAX_NODES }),
    desired_size: Size,
  },
  { title: 'CreateNodePoolRequest', additionalProperties: false },
);

export const ResizeNodePoolBody = Type.Object(
  { min_size: Type.Optional(Size), max_size: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_NODES })), desired_size: Type.Optional(Size) },
  { title: 'ResizeNodePoolRequest', additionalProperties: false, minProperties: 1 },
);

export const ClusterParams = Type.Object({ id: IdParam });
export const PoolParams = Type.Object({ id: IdParam, pool: IdParam });

export const NodePoolListQuery = Type.Object(
  { ...PageQuery, include_deleted: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
