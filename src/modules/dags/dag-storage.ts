import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface BlobStore {
  /** The folder blobs live in: <data dir>/dag-blobs. */
  readonly dir: string;
  pathOf(sha256: string): string;
  /**
   * Stores content under its sha256, once. The bytes go to a temporary file that is flushed and then
   * renamed, so a crash never leaves a partial blob under its final name.
   */
  putAll(blobs: ReadonlyArray<{ sha256: string; bytes: Buffer }>): Promise<{ written: number }>;
  read(sha256: string): Promise<Buffer>;
}

/** Content-addressed storage for DAG files on the local disk (the data folder by default). */
export function createBlobStore(dataDir: string): BlobStore {
  const dir = path.join(dataDir, 'dag-blobs');

  function pathOf(sha256: string): string {
    // The name comes from our own hashing; the check keeps a bug from ever writing outside the folder.
    if (!SHA256_HEX.test(sha256)) throw new Error('blob names are sha256 hex digests');
    return path.join(dir, sha256);
  }

  async function present(file: string, size: number): Promise<boolean> {
    try {
      return (await stat(file)).size === size;
    } catch {
      return false;
    }
  }

  async function put(sha256: string, bytes: Buffer): Promise<boolean> {
    const target = pathOf(sha256);
    if (await present(target, bytes.length)) return false;
    const temp = path.join(dir, `.tmp-${sha256.slice(0, 16)}-${randomBytes(8).toString('hex')}`);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return true;
  }

  /** The renames themselves survive a power cut only once the folder is flushed. */
  async function syncDir(): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  return {
    dir,
    pathOf,
    async putAll(blobs) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      let written = 0;
      const unique = new Map(blobs.map((blob) => [blob.sha256, blob.bytes]));
      for (const [sha256, bytes] of unique) {
        if (await put(sha256, bytes)) written += 1;
      }
      if (written > 0) await syncDir();
      return { written };
    },
    read: (sha256) => readFile(pathOf(sha256)),
  };
}
