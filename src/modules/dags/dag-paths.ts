import { AppError } from '../../http/errors.js';

const MiB = 1024 * 1024;

/**
 * What one DAG upload may hold. Every bound is counted on bytes actually read, never on sizes an
 * archive header declares (those only let us refuse early).
 */
export const DAG_LIMITS = {
  maxFileBytes: 1 * MiB,
  maxTotalBytes: 20 * MiB,
  maxFiles: 1000,
  /** Archive entries including folders: a zip of a million empty folders is refused too. */
  maxEntries: 2000,
  /** The compressed archive itself (stored zips carry some header overhead on top of their content). */
  maxArchiveBytes: 22 * MiB,
  /** The whole multipart request (checked on Content-Length before anything is read). */
  maxRequestBytes: 23 * MiB,
  /** Zip bomb guard: an entry (or a gzip stream) expanding more than this, once past the floor below. */
  maxCompressionRatio: 100,
  ratioFloorBytes: 64 * 1024,
  /** tar pads every entry to 512 bytes, so a gzip stream of small files compresses far better than its files. */
  gzipRatioFloorBytes: 1 * MiB,
  maxPathLength: 255,
  maxPathDepth: 16,
} as const;

export const ALLOWED_EXTENSIONS = ['.py', '.sql', '.json', '.yaml', '.yml', '.txt', '.md', '.csv', '.cfg', '.ini'] as const;
/** Airflow reads this one by name; it has no extension. */
const ALLOWED_NAMES = new Set(['.airflowignore']);
const ARCHIVE_EXTENSIONS = ['.zip', '.tar', '.gz', '.tgz', '.bz2', '.xz', '.7z', '.rar', '.whl', '.egg', '.jar', '.zst'];

export const ALLOWED_TYPES_TEXT = `only .py files and data files (${ALLOWED_EXTENSIONS.slice(1).join(', ')}) or .airflowignore`;

export const NO_FILES_MESSAGE = 'the upload holds no files; send .py files or one .zip/.tar.gz bundle in parts named "file"';

/** How a refused file is shown back: bounded, so a hostile name cannot blow up a response or a log line. */
export function displayName(raw: string): string {
  return raw.length > 200 ? `${raw.slice(0, 200)}…` : raw;
}

/** 400 naming the offending file. */
export function rejectFile(path: string, message: string): AppError {
  const shown = displayName(path);
  return new AppError('validation_failed', `${shown}: ${message}`, { errors: [{ path: shown, message }] });
}

/** 413 naming the file (or the upload) that went over a size or count limit. */
export function tooLarge(path: string, message: string): AppError {
  const shown = displayName(path);
  return new AppError('payload_too_large', `${shown}: ${message}`, { errors: [{ path: shown, message }] });
}

/** Undoes percent-encoding (several rounds: %252e%252e is ../ twice encoded); a malformed escape stays as sent. */
function percentDecoded(raw: string): string {
  let current = raw;
  for (let round = 0; round < 4 && current.includes('%'); round++) {
    try {
      const next = decodeURIComponent(current);
      if (next === current) break;
      current = next;
    } catch {
      break;
    }
  }
  return current;
}

/** C0 and C1 control characters (NUL, newlines, escapes, ...): never part of a file name we keep. */
const hasControl = (text: string): boolean => [...text].some((ch) => {
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
});
/** Letters, digits and a few punctuation marks; a space only inside a name. Nothing a shell or a URL treats specially. */
const SEGMENT = /^[A-Za-z0-9._@+=,-](?:[A-Za-z0-9._@+=, -]*[A-Za-z0-9._@+=,-])?$/;

/**
 * Turns a client-chosen file name into the path it gets in the bundle: forward slashes, no empty or `./`
 * segments. Refuses absolute paths and `..` however they are spelled (backslashes, percent-encoding,
 * full-width dots), control characters and anything outside a small character set.
 */
export function normalizeBundlePath(raw: string): string {
  if (raw.trim() === '') throw rejectFile('(unnamed file)', 'has no file name; name each file with its path in the bundle, e.g. dags/etl.py');
  if (hasControl(raw)) throw rejectFile(raw, 'contains control characters');
  const decoded = percentDecoded(raw);
  for (const candidate of new Set([raw, decoded, raw.normalize('NFKC'), decoded.normalize('NFKC')])) {
    const slashed = candidate.replace(/\\/g, '/');
    if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) {
      throw rejectFile(raw, 'is an absolute path; use a path relative to the bundle root, e.g. dags/etl.py');
    }
    if (slashed.split('/').some((segment) => segment.trim() === '..')) {
      throw rejectFile(raw, 'contains path traversal (..); use a path relative to the bundle root');
    }
    if (hasControl(candidate)) throw rejectFile(raw, 'contains control characters');
  }
  const segments = raw
    .replace(/\\/g, '/')
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.');
  const path = segments.join('/');
  if (segments.length === 0) throw rejectFile(raw, 'names no file');
  if (path.length > DAG_LIMITS.maxPathLength) throw rejectFile(raw, `is longer than ${DAG_LIMITS.maxPathLength} characters`);
  if (segments.length > DAG_LIMITS.maxPathDepth) throw rejectFile(raw, `is nested more than ${DAG_LIMITS.maxPathDepth} folders deep`);
  for (const segment of segments) {
    if (!SEGMENT.test(segment)) {
      throw rejectFile(raw, 'may contain only letters, digits, spaces and . _ - + = @ , in its name and folders');
    }
  }
  return path;
}

function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  if (base.endsWith('.tar.gz')) return '.tar.gz';
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot);
}

/** A top-level upload that is one bundle rather than a DAG file. */
export function isBundleArchiveName(name: string): 'zip' | 'tar.gz' | null {
  const lower = name.toLowerCase();
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  return null;
}

/** Refuses files that are neither Python nor an allowed data file, before a byte of them is read. */
export function checkFileType(path: string, insideArchive: boolean): void {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (ALLOWED_NAMES.has(base)) return;
  const extension = extensionOf(path);
  if ((ALLOWED_EXTENSIONS as readonly string[]).includes(extension)) return;
  if (ARCHIVE_EXTENSIONS.some((archive) => extension === archive || extension.endsWith(archive))) {
    throw rejectFile(
      path,
      insideArchive
        ? 'is an archive inside the bundle; nested archives are not accepted'
        : 'is an archive of a kind not accepted; upload one .zip, .tar.gz or .tgz bundle, or loose files',
    );
  }
  throw rejectFile(path, `has a file type that is not accepted: ${ALLOWED_TYPES_TEXT} may be uploaded`);
}

/** Magic numbers of archive and compression formats: an archive renamed to .txt is still a nested archive. */
const ARCHIVE_MAGIC: Array<{ offset: number; bytes: number[] }> = [
  { offset: 0, bytes: [0x50, 0x4b, 0x03, 0x04] }, // zip
  { offset: 0, bytes: [0x50, 0x4b, 0x05, 0x06] }, // empty zip
  { offset: 0, bytes: [0x1f, 0x8b] }, // gzip
  { offset: 0, bytes: [0x42, 0x5a, 0x68] }, // bzip2
  { offset: 0, bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] }, // xz
  { offset: 0, bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] }, // 7z
  { offset: 0, bytes: [0x28, 0xb5, 0x2f, 0xfd] }, // zstd
  { offset: 257, bytes: [0x75, 0x73, 0x74, 0x61, 0x72] }, // tar ("ustar")
];

function looksLikeArchive(bytes: Buffer): boolean {
  return ARCHIVE_MAGIC.some(({ offset, bytes: magic }) => bytes.length >= offset + magic.length && magic.every((byte, i) => bytes[offset + i] === byte));
}

/** Checks what a file holds: no archive in disguise, and Python source that is UTF-8 (Airflow's parser needs it). */
export function checkFileContent(path: string, bytes: Buffer): void {
  if (looksLikeArchive(bytes)) throw rejectFile(path, 'holds an archive (nested archives are not accepted)');
  if (extensionOf(path) === '.py') {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw rejectFile(path, 'is not valid UTF-8; Python DAG files must be UTF-8 text');
    }
  }
}
