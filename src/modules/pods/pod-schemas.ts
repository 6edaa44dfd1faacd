import { Type } from 'typebox';
import { IdParam, Timestamp } from '../../http/schemas.js';

export const Pod = Type.Object({
  name: Type.String(),
  namespace: Type.String(),
  node: Type.String(),
  status: Type.String(),
  restarts: Type.Integer(),
  started_at: Timestamp,
}, { title: 'Pod' });

/** A Kubernetes pod name (a DNS subdomain); it is also the list's cursor. */
export const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export const ClusterParams = Type.Object({ id: IdParam });

export const PodParams = Type.Object({
  id: IdParam,
  pod: Type.String({ minLength: 1, maxLength: 253, pattern: POD_NAME.source }),
});

export const PodListQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 400 })) },
  { additionalProperties: false },
);

export const PodPage = Type.Object({ data: Type.Array(Pod), next_cursor: Type.Union([Type.String(), Type.Null()]) }, { title: 'PodList' });

export const LogQuery = Type.Object(
  {
    tail: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 100, description: 'How many of the latest lines to send first.' })),
    follow: Type.Optional(Type.Boolean({ default: false, description: 'Keep the response open and stream new lines.' })),
  },
  { additionalProperties: false },
);
