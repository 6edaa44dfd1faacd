import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import { DnsLabel, IdParam, Labels, Nullable, Timestamp } from '../../http/schemas.js';
import { Job } from '../jobs/job-schemas.js';
import { CLUSTER_STATUSES } from './cluster-repo.js';
import { KUBERNETES_VERSIONS } from './kubernetes-versions.js';

export const Cluster = Type.Object({
  id: Type.String(),
  name: Type.String(),
  cloud_id: Type.String(),
  region: Type.String(),
  kubernetes_version: Type.String(),
  status: Type.String({ enum: [...CLUSTER_STATUSES] }),
  status_reason: Nullable(Type.String()),
  endpoint: Nullable(Type.String()),
  labels: Type.Record(Type.String(), Type.String()),
  auto_upgrade: Type.Boolean(),
  active_job_id: Nullable(Type.String({ description: 'The job that currently holds the cluster; other operations get 409 until it ends.' })),
  created_at: Timestamp,
  updated_at: Timestamp,
  deleted_at: Nullable(Timestamp),
}, { title: 'Cluster' });

export const ClusterAccepted = Type.Object({ cluster: Cluster, job: Job }, { title: 'ClusterAccepted' });

const Version = Type.Enum([...KUBERNETES_VERSIONS]);

export const CreateClusterBody = Type.Object(
  {
    name: DnsLabel,
    cloud_id: IdParam,
    kubernetes_version: Type.Optional(Version),
    region: Type.Optional(Type.String({ minLength: 2, maxLength: 40, description: "Defaults to the cloud account's region." })),
    labels: Type.Optional(Labels),
    auto_upgrade: Type.Optional(Type.Boolean()),
  },
  { title: 'CreateClusterRequest', additionalProperties: false },
);

export const UpdateClusterBody = Type.Object(
  { name: Type.Optional(DnsLabel), labels: Type.Optional(Labels), auto_upgrade: Type.Optional(Type.Boolean()) },
  { title: 'UpdateClusterRequest', additionalProperties: false, minProperties: 1 },
);

export const UpgradeClusterBody = Type.Object({ kubernetes_version: Version }, { title: 'UpgradeClusterRequest', additionalProperties: false });

export const ClusterListQuery = Type.Object(
  { ...PageQuery, status: Type.Optional(Type.Enum([...CLUSTER_STATUSES])), cloud_id: Type.Optional(IdParam) },
  { additionalProperties: false },
);
