import type { Multipart } from '@fastify/multipart';
import { AppError } from '../../http/errors.js';
import { readTarGz, readZip } from './dag-archive.js';
import { BundleCollector, readBounded, type CheckedBundle } from './dag-bundle.js';
import { DAG_LIMITS, displayName, isBundleArchiveName, rejectFile, tooLarge } from './dag-paths.js';

/** The form field names a file part may use; anything else is refused like an unknown JSON field. */
export const FILE_FIELDS = ['file', 'files'] as const;

/** Busboy limits for the one route that reads multipart; each is also enforced on the bytes we read. */
export const MULTIPART_LIMITS = {
  // Counts and sizes are one over ours: our own counting refuses first and names the file.
  files: DAG_LIMITS.maxFiles + 1,
  parts: DAG_LIMITS.maxFiles + 10,
  fields: 10,
  fieldSize: 1024,
  fieldNameSize: 100,
  headerPairs: 20,
  fileSize: DAG_LIMITS.maxArchiveBytes + 1,
} as const;

const PARSER_LIMIT_CODES = new Set(['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_REQ_FILE_TOO_LARGE']);

/** What the multipart parser throws is the client's doing: a 4xx, never a 500. */
function asUploadError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && PARSER_LIMIT_CODES.has(code)) {
    return tooLarge('body', `holds more than ${DAG_LIMITS.maxFiles} files or a file over ${DAG_LIMITS.maxArchiveBytes} bytes`);
  }
  return rejectFile('body', 'is not a well-formed multipart/form-data body');
}

/**
 * Reads one upload: loose files (each part's filename is its path in the bundle) or exactly one
 * .zip/.tar.gz/.tgz bundle. Everything is held in memory (bounded by DAG_LIMITS) and checked before
 * anything is stored, so a refused upload leaves no trace.
 */
export async function readDagUpload(parts: AsyncIterable<Multipart>): Promise<CheckedBundle> {
  const collector = new BundleCollector();
  let archive: { name: string; kind: 'zip' | 'tar.gz'; bytes: Buffer } | null = null;
  let looseFiles = 0;
  try {
    for await (const part of parts) {
      if (part.type === 'field') throw rejectFile(`form.${part.fieldname}`, 'is not an accepted form field; send only files, in parts named "file"');
      if (!(FILE_FIELDS as readonly string[]).includes(part.fieldname)) {
        throw rejectFile(`form.${part.fieldname}`, 'is not an accepted form field; send each file in a part named "file"');
      }
      const name = part.filename;
      const kind = isBundleArchiveName(name);
      if (archive !== null || (kind !== null && looseFiles > 0)) {
        throw rejectFile(displayName(name), 'cannot be sent with other files: upload either loose files or exactly one .zip/.tar.gz bundle');
      }
      if (kind !== null) {
        const bytes = await readBounded(part.file, { path: name, maxBytes: DAG_LIMITS.maxArchiveBytes, what: 'the limit for a bundle archive' });
        archive = { name: displayName(name), kind, bytes };
        continue;
      }
      const path = collector.admit(name, false);
      collector.add(path, await readBounded(part.file, { path, maxBytes: DAG_LIMITS.maxFileBytes, what: 'the limit per file' }));
      looseFiles += 1;
    }
  } catch (error) {
    throw asUploadError(error);
  }
  if (archive?.kind === 'zip') await readZip(archive.bytes, archive.name, collector);
  if (archive?.kind === 'tar.gz') await readTarGz(archive.bytes, archive.name, collector);
  return collector.finish();
}
