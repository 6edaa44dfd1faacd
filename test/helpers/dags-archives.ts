import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';

/**
 * Archives and multipart bodies built in memory for the DAG upload tests, including malformed ones a
 * normal tool would refuse to write: names with `..`, symlinks, headers that lie about sizes.
 */

export interface ZipEntryInput {
  name: string | Buffer;
  data?: Buffer | string;
  /** Deflate the data (default) or store it as is. */
  deflate?: boolean;
  /** Unix mode for the external attributes (e.g. 0o120777 for a symlink); omitted = an MS-DOS entry. */
  unixMode?: number;
  /** Sets the UTF-8 name flag (default: true for string names). */
  utf8?: boolean;
  /** The uncompressed size the headers declare, when it should differ from the data's. */
  declaredSize?: number;
  /** Data already deflated (a bomb built once), with the size and CRC of what it expands to. */
  compressed?: { data: Buffer; size: number; crc: number };
  /** General-purpose flag bits to add (1 = encrypted). */
  extraFlags?: number;
}

/** A minimal zip writer: local headers, data, central directory, end record (no zip64). */
export function buildZip(entries: ZipEntryInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = typeof entry.name === 'string' ? Buffer.from(entry.name, 'utf8') : entry.name;
    const raw = entry.data === undefined ? Buffer.alloc(0) : Buffer.from(entry.data);
    const deflate = entry.deflate ?? true;
    const data = entry.compressed?.data ?? (deflate ? deflateRawSync(raw) : raw);
    const method = entry.compressed || deflate ? 8 : 0;
    const crc = entry.compressed?.crc ?? crc32(raw);
    const size = entry.declaredSize ?? entry.compressed?.size ?? raw.length;
    const flags = ((entry.utf8 ?? typeof entry.name === 'string') ? 0x800 : 0) | (entry.extraFlags ?? 0);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, data);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(entry.unixMode !== undefined ? (3 << 8) | 20 : 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(entry.unixMode !== undefined ? (entry.unixMode << 16) >>> 0 : 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** `size` zero bytes deflated: a few hundred KB at most that expand to `size`. */
export function zeroBomb(size: number): { data: Buffer; size: number; crc: number } {
  const zeros = Buffer.alloc(size);
  return { data: deflateRawSync(zeros, { level: 9 }), size, crc: crc32(zeros) };
}

export interface TarEntryInput {
  name: string;
  data?: Buffer | string;
  type?: 'file' | 'symlink' | 'link' | 'directory' | 'fifo' | 'character-device' | 'block-device';
  linkname?: string;
}

export async function buildTar(entries: TarEntryInput[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => chunks.push(Buffer.from(chunk as Uint8Array)));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const header = { name: entry.name, type, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date(Date.UTC(2026, 0, 1)), ...(entry.linkname ? { linkname: entry.linkname } : {}) };
    if (type === 'file') pack.entry(header, Buffer.from(entry.data ?? ''));
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const buildTarGz = async (entries: TarEntryInput[]): Promise<Buffer> => gzipSync(await buildTar(entries));

/** Rewrites the size field of the first tar header (and its checksum), leaving the data as it was. */
export function withTarSize(tarball: Buffer, declared: number): Buffer {
  const copy = Buffer.from(tarball);
  copy.write(`${declared.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += copy[i] ?? 0;
  copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return copy;
}

export interface FormPart {
  /** The filename parameter (a path in the bundle); omit for a plain form field. */
  filename?: string;
  data: Buffer | string;
  field?: string;
}

/** A multipart/form-data body, filenames quoted as RFC 7578 says (backslash and quote escaped). */
export function multipartBody(parts: FormPart[]): { payload: Buffer; headers: { 'content-type': string } } {
  const boundary = `----skd-test-${Math.random().toString(36).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const field = part.field ?? 'file';
    const filename = part.filename === undefined ? '' : `; filename="${part.filename.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    const type = part.filename === undefined ? '' : '\r\nContent-Type: application/octet-stream';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"${filename}${type}\r\n\r\n`, 'utf8'));
    chunks.push(Buffer.from(part.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
