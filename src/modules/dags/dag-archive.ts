import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import yauzl, { type Entry, type ZipFile } from 'yauzl';
import { AppError } from '../../http/errors.js';
import { readBounded, type BundleCollector } from './dag-bundle.js';
import { DAG_LIMITS, rejectFile, tooLarge } from './dag-paths.js';

const PER_FILE = 'the limit per file';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/**
 * Entry names are taken as raw bytes and decoded here, strictly: UTF-8 when the entry says so, else
 * plain ASCII (the two readings of CP437 and UTF-8 agree on it). yauzl's own decoding would turn
 * backslashes into slashes and refuse `..` with a message that names no file.
 */
function zipEntryName(entry: Entry, archiveName: string): string {
  const raw = entry.fileNameRaw;
  const utf8Flag = (entry.generalPurposeBitFlag & 0x800) !== 0;
  if (!utf8Flag && raw.some((byte) => byte >= 0x80)) {
    throw rejectFile(`${archiveName}: ${raw.toString('latin1')}`, 'has a file name that is not UTF-8; re-create the zip with UTF-8 names');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw rejectFile(`${archiveName}: ${raw.toString('latin1')}`, 'has a file name that is not valid UTF-8');
  }
}

type EntryKind = 'file' | 'folder' | 'link' | 'special';

/** The unix file type in the upper half of the external attributes: links and devices are refused. */
function zipEntryKind(entry: Entry, name: string): EntryKind {
  const type = (entry.externalFileAttributes >>> 16) & S_IFMT;
  if (type === S_IFLNK) return 'link';
  if (type === S_IFDIR || ((type === 0 || type === S_IFREG) && name.endsWith('/'))) return 'folder';
  if (type === 0 || type === S_IFREG) return 'file';
  return 'special';
}

const LINKS_REFUSED = 'is a symbolic or hard link; links are not accepted in a bundle';
const SPECIAL_REFUSED = 'is a device, FIFO or socket; only regular files are accepted';

/** Reads a zip held in memory into the collector, counting every expanded byte. */
export async function readZip(archive: Buffer, archiveName: string, collector: BundleCollector): Promise<void> {
  const invalid = () => rejectFile(archiveName, 'is not a valid zip archive (corrupt, truncated or not a zip)');
  let zip: ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(archive, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, strictFileNames: true });
  } catch {
    throw invalid();
  }
  // The declared count can only make us refuse sooner; the entries are counted again as they are read.
  if (zip.entryCount > DAG_LIMITS.maxEntries) {
    zip.close();
    throw tooLarge(archiveName, `declares ${zip.entryCount} entries; an upload holds at most ${DAG_LIMITS.maxEntries} (${DAG_LIMITS.maxFiles} files)`);
  }
  let current: string | null = null;
  try {
    for await (const entry of zip.eachEntry()) {
      current = null;
      const name = zipEntryName(entry, archiveName);
      const kind = zipEntryKind(entry, name);
      if (kind === 'link') throw rejectFile(name, LINKS_REFUSED);
      if (kind === 'special') throw rejectFile(name, SPECIAL_REFUSED);
      if (kind === 'folder') {
        collector.admitFolder(name);
        continue;
      }
      const path = collector.admit(name, true);
      if (entry.isEncrypted()) throw rejectFile(path, 'is encrypted; upload files without a password');
      if (entry.uncompressedSize > DAG_LIMITS.maxFileBytes) {
        throw tooLarge(path, `declares ${entry.uncompressedSize} bytes, more than ${DAG_LIMITS.maxFileBytes} (${PER_FILE})`);
      }
      current = path;
      const stream = await zip.openReadStreamPromise(entry);
      const bytes = await readBounded(stream, { path, maxBytes: DAG_LIMITS.maxFileBytes, what: PER_FILE, compressedBytes: entry.compressedSize });
      current = null;
      collector.add(path, bytes);
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    // yauzl checks each entry's bytes against its header and its data against deflate: a lie or a corrupt entry.
    if (current !== null) throw rejectFile(current, 'does not match its zip header (declared size or compressed data is wrong)');
    throw invalid();
  } finally {
    zip.close();
  }
}

/** Counts the bytes gunzip produces and stops the stream at the limit, whatever the tar headers say. */
function expansionMeter(archiveName: string, compressedBytes: number): Transform {
  const limit = DAG_LIMITS.maxTotalBytes + DAG_LIMITS.maxEntries * 1024 + 10 * 1024;
  let expanded = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      expanded += chunk.length;
      if (expanded > limit) {
        callback(tooLarge(archiveName, `expands to more than ${limit} bytes, beyond the limit on a bundle's total size (${DAG_LIMITS.maxTotalBytes} bytes of files)`));
        return;
      }
      if (expanded > DAG_LIMITS.gzipRatioFloorBytes && expanded > compressedBytes * DAG_LIMITS.maxCompressionRatio) {
        callback(rejectFile(archiveName, `expands more than ${DAG_LIMITS.maxCompressionRatio}:1 from its compressed size; this looks like a gzip bomb`));
        return;
      }
      callback(null, chunk);
    },
  });
}

/** Reads a gzip-compressed tar held in memory into the collector. */
export async function readTarGz(archive: Buffer, archiveName: string, collector: BundleCollector): Promise<void> {
  const source = Readable.from([archive]);
  const gunzip = createGunzip();
  const meter = expansionMeter(archiveName, archive.length);
  const extract = tar.extract();
  let streamError: unknown = null;
  const piping = pipeline(source, gunzip, meter, extract).catch((error: unknown) => {
    streamError = error;
  });
  const stopAll = () => {
    for (const stream of [source, gunzip, meter, extract]) stream.destroy();
  };
  try {
    for await (const entry of extract) {
      const { name, type } = entry.header;
      if (type === 'directory') {
        collector.admitFolder(name);
        entry.resume();
        continue;
      }
      if (type === 'symlink' || type === 'link') throw rejectFile(name, LINKS_REFUSED);
      if (type !== 'file' && type !== 'contiguous-file') {
        throw rejectFile(name, type === null || type === undefined ? 'has an unknown tar entry type; only regular files are accepted' : SPECIAL_REFUSED);
      }
      const path = collector.admit(name, true);
      if ((entry.header.size ?? 0) > DAG_LIMITS.maxFileBytes) {
        throw tooLarge(path, `declares ${entry.header.size} bytes, more than ${DAG_LIMITS.maxFileBytes} (${PER_FILE})`);
      }
      const bytes = await readBounded(entry, { path, maxBytes: DAG_LIMITS.maxFileBytes, what: PER_FILE });
      collector.add(path, bytes);
    }
  } catch (error) {
    stopAll();
    await piping;
    if (error instanceof AppError) throw error;
    if (streamError instanceof AppError) throw streamError;
    throw rejectFile(archiveName, 'is not a valid .tar.gz archive (the gzip or tar data is corrupt or truncated)');
  }
  await piping;
  if (streamError instanceof AppError) throw streamError;
  if (streamError !== null) throw rejectFile(archiveName, 'is not a valid .tar.gz archive (the gzip or tar data is corrupt or truncated)');
}
