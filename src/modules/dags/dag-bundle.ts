import { createHash } from 'node:crypto';
import { checkFileContent, checkFileType, DAG_LIMITS, NO_FILES_MESSAGE, normalizeBundlePath, rejectFile, tooLarge } from './dag-paths.js';

export interface BundleFile {
  path: string;
  size: number;
  sha256: string;
  bytes: Buffer;
}

/** A checked upload, ready to store: its files sorted by path, and the digest that names its content. */
export interface CheckedBundle {
  files: BundleFile[];
  digest: string;
  sizeBytes: number;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${bytes / MiB} MiB`;

/**
 * The digest of a bundle is the sha256 of its manifest: one line per file, sorted by path,
 * `<path>\t<size>\t<sha256>\n`. Paths cannot hold tabs or newlines, so the text is unambiguous and the
 * same files always give the same digest, however they were uploaded (loose, zip or tar.gz).
 */
export function manifestDigest(files: ReadonlyArray<{ path: string; size: number; sha256: string }>): string {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest = sorted.map((file) => `${file.path}\t${file.size}\t${file.sha256}\n`).join('');
  return `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

/**
 * Gathers the files of one upload, whatever their source, and applies every per-file and per-bundle
 * rule as each one arrives: path, type, duplicates, count, sizes and content.
 */
export class BundleCollector {
  private readonly files = new Map<string, BundleFile>();
  private readonly folded = new Map<string, string>();
  private readonly folders = new Set<string>();
  private totalBytes = 0;
  private entries = 0;

  /** Checks a file's name before its content is read; returns its path in the bundle. */
  admit(rawName: string, insideArchive: boolean): string {
    this.countEntry(rawName);
    if (rawName.endsWith('/') || rawName.endsWith('\\')) throw rejectFile(rawName, 'is a folder name, not a file');
    const path = normalizeBundlePath(rawName);
    checkFileType(path, insideArchive);
    if (this.files.size >= DAG_LIMITS.maxFiles) {
      throw tooLarge(path, `is one file too many: a bundle holds at most ${DAG_LIMITS.maxFiles} files`);
    }
    const same = this.folded.get(path.toLowerCase());
    if (same === path) throw rejectFile(path, 'appears twice in the upload');
    // Workers may sit on case-insensitive file systems, where these two would overwrite each other.
    if (same !== undefined) throw rejectFile(path, `differs from ${same} only in letter case`);
    if (this.folders.has(path.toLowerCase())) throw rejectFile(path, 'is both a file and a folder in the upload');
    const parents = path.split('/').slice(0, -1).map((_, i, all) => all.slice(0, i + 1).join('/').toLowerCase());
    for (const parent of parents) {
      if (this.folded.has(parent)) throw rejectFile(path, `lies under ${this.folded.get(parent)}, which is a file`);
    }
    for (const parent of parents) this.folders.add(parent);
    this.folded.set(path.toLowerCase(), path);
    return path;
  }

  /** A folder entry of an archive: nothing is stored for it, but its name must be as safe as a file's. */
  admitFolder(rawName: string): void {
    this.countEntry(rawName);
    normalizeBundlePath(rawName);
  }

  /** Adds the content of a file admitted before. */
  add(path: string, bytes: Buffer): void {
    checkFileContent(path, bytes);
    this.totalBytes += bytes.length;
    if (this.totalBytes > DAG_LIMITS.maxTotalBytes) {
      throw tooLarge(path, `brings the bundle over ${mib(DAG_LIMITS.maxTotalBytes)} (the limit on the total size of its files)`);
    }
    this.files.set(path, { path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), bytes });
  }

  finish(): CheckedBundle {
    if (this.files.size === 0) {
      throw rejectFile('file', NO_FILES_MESSAGE);
    }
    const files = [...this.files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { files, digest: manifestDigest(files), sizeBytes: this.totalBytes };
  }

  private countEntry(rawName: string): void {
    this.entries += 1;
    if (this.entries > DAG_LIMITS.maxEntries) {
      throw tooLarge(rawName, `is one entry too many: an upload holds at most ${DAG_LIMITS.maxEntries} entries (files and folders)`);
    }
  }
}

export interface ReadLimits {
  path: string;
  maxBytes: number;
  /** What the limit is, in words, for the refusal. */
  what: string;
  /** Compressed bytes the data comes from (a zip entry), to refuse an expansion ratio that only a bomb has. */
  compressedBytes?: number;
}

/** Reads a stream to the end, counting what it yields and stopping as soon as a limit is crossed. */
export async function readBounded(stream: AsyncIterable<unknown> & { destroy(): unknown }, limits: ReadLimits): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const data of stream) {
      const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
      total += chunk.length;
      if (total > limits.maxBytes) throw tooLarge(limits.path, `is larger than ${mib(limits.maxBytes)} (${limits.what})`);
      if (
        limits.compressedBytes !== undefined &&
        total > DAG_LIMITS.ratioFloorBytes &&
        total > limits.compressedBytes * DAG_LIMITS.maxCompressionRatio
      ) {
        throw rejectFile(limits.path, `expands more than ${DAG_LIMITS.maxCompressionRatio}:1 from its compressed size; this looks like a zip bomb`);
      }
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, total);
}
