import { Type } from 'typebox';
import { PageQuery } from '../../http/pagination.js';
import type { DocumentedBody } from '../../http/openapi.js';
import { Timestamp } from '../../http/schemas.js';
import { Job } from '../jobs/job-schemas.js';
import { ALLOWED_EXTENSIONS, DAG_LIMITS } from './dag-paths.js';
import { DAG_BUNDLE_STATUSES } from './dag-repo.js';
import { FILE_FIELDS } from './dag-upload.js';

export const DagFile = Type.Object({
  path: Type.String({ description: 'Path in the bundle, relative, with forward slashes.' }),
  size: Type.Integer({ description: 'Bytes.' }),
  sha256: Type.String({ description: 'Hex sha256 of the content; the file is stored once under this name.' }),
}, { title: 'DagFile' });

export const DagBundle = Type.Object({
  id: Type.String(),
  app_id: Type.String(),
  version: Type.Integer({ description: 'Starts at 1 for each app and grows by one per upload; a version never changes.' }),
  digest: Type.String({ description: 'sha256:<hex> of the manifest (sorted "path\\tsize\\tsha256" lines): equal content, equal digest.' }),
  size_bytes: Type.Integer(),
  file_count: Type.Integer(),
  files: Type.Array(DagFile),
  status: Type.String({
    enum: [...DAG_BUNDLE_STATUSES],
    description: 'syncing while its dag.sync job runs; synced once on the cluster; failed when the job failed or was canceled (the job says why).',
  }),
  job_id: Type.Union([Type.String(), Type.Null()]),
  created_by: Type.String(),
  created_at: Timestamp,
  updated_at: Timestamp,
}, { title: 'DagBundle' });

export const DagBundleAccepted = Type.Object({ bundle: DagBundle, job: Job }, { title: 'DagBundleAccepted' });

export const DagListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });

export const UPLOAD_DESCRIPTION = [
  'multipart/form-data with one part per file, each in a field named `file`: either DAG files, whose',
  'filename is their path in the bundle (e.g. `dags/etl.py`), or exactly one `.zip`, `.tar.gz` or `.tgz` bundle.',
  `Accepted files: ${ALLOWED_EXTENSIONS.join(', ')} and .airflowignore; Python must be UTF-8.`,
  `Limits: ${DAG_LIMITS.maxFileBytes} bytes per file, ${DAG_LIMITS.maxTotalBytes} bytes in all, ${DAG_LIMITS.maxFiles} files,`,
  `${DAG_LIMITS.maxRequestBytes} bytes per request (Content-Length is required). No absolute paths, no \`..\`, no links.`,
  'Each upload is a new immutable version; syncing it to the cluster is a dag.sync job (202).',
].join(' ');

const FILE_PART = { type: 'string', format: 'binary', contentMediaType: 'application/octet-stream' };

/**
 * The upload's body, for the OpenAPI document (the route reads the multipart stream itself, so Fastify
 * has no body schema to describe it): file parts only, under the field names dag-upload.ts accepts.
 */
export const DagUploadBody: DocumentedBody = {
  description: 'multipart/form-data: DAG files (each filename is its path in the bundle) or exactly one .zip, .tar.gz or .tgz bundle. No other form fields.',
  required: true,
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object',
        properties: Object.fromEntries(
          FILE_FIELDS.map((field, index) => [
            field,
            {
              // One part, or several under the same name: a validating proxy (Prism) reads a single part
              // as a lone value, not as an array of one.
              anyOf: [FILE_PART, { type: 'array', items: FILE_PART }],
              description: index === 0 ? 'One part per file.' : `Accepted as another name for \`${FILE_FIELDS[0]}\`.`,
            },
          ]),
        ),
        additionalProperties: false,
      },
      encoding: Object.fromEntries(FILE_FIELDS.map((field) => [field, { contentType: 'text/x-python, application/zip, application/gzip, application/octet-stream' }])),
    },
  },
};
