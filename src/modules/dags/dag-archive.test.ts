import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { buildTar, buildTarGz, buildZip, withTarSize, zeroBomb } from '../../../test/helpers/dags-archives.js';
import { AppError } from '../../http/errors.js';
import { readTarGz, readZip } from './dag-archive.js';
import { BundleCollector, manifestDigest } from './dag-bundle.js';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** The refusal a promise rejects with, as [code, path, message]. */
async function refusal(promise: Promise<unknown>): Promise<[string, string, string] | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    const first = error.extras.errors?.[0];
    return [error.code, String(first?.path), String(first?.message)];
  }
}

async function zipFiles(entries: Parameters<typeof buildZip>[0]) {
  const collector = new BundleCollector();
  await readZip(buildZip(entries), 'b.zip', collector);
  return collector.finish();
}

async function tarFiles(tgz: Buffer) {
  const collector = new BundleCollector();
  await readTarGz(tgz, 'b.tgz', collector);
  return collector.finish();
}

describe('manifestDigest', () => {
  it('is the sha256 of sorted "path\\tsize\\tsha256" lines, whatever the input order', () => {
    const a = { path: 'b.py', size: 1, sha256: sha('x') };
    const b = { path: 'a.py', size: 2, sha256: sha('yy') };
    const expected = `sha256:${sha(`a.py\t2\t${sha('yy')}\nb.py\t1\t${sha('x')}\n`)}`;
    expect(manifestDigest([a, b])).toBe(expected);
    expect(manifestDigest([b, a])).toBe(expected);
    expect(manifestDigest([a])).not.toBe(expected);
  });
});

describe('readZip', () => {
  it('reads deflated and stored entries, skips folders and normalizes names', async () => {
    const bundle = await zipFiles([
      { name: 'dags/', unixMode: 0o040755 },
      { name: 'dags/b.py', data: 'b = 1\n' },
      { name: './a.py', data: 'a = 1\n', deflate: false, unixMode: 0o100644 },
    ]);
    expect(bundle.files.map(({ path, size, sha256 }) => ({ path, size, sha256 }))).toEqual([
      { path: 'a.py', size: 6, sha256: sha('a = 1\n') },
      { path: 'dags/b.py', size: 6, sha256: sha('b = 1\n') },
    ]);
    expect(bundle.sizeBytes).toBe(12);
    expect(bundle.digest).toBe(manifestDigest(bundle.files));
  });

  it('refuses links, devices and lying headers, naming the entry', async () => {
    expect(await refusal(zipFiles([{ name: 'l.py', data: 'x', unixMode: 0o120777 }]))).toEqual([
      'validation_failed',
      'l.py',
      'is a symbolic or hard link; links are not accepted in a bundle',
    ]);
    expect((await refusal(zipFiles([{ name: 'dev.py', unixMode: 0o020644 }])))?.[2]).toBe('is a device, FIFO or socket; only regular files are accepted');
    expect((await refusal(zipFiles([{ name: 's.py', unixMode: 0o140644 }])))?.[2]).toBe('is a device, FIFO or socket; only regular files are accepted');
    expect(await refusal(zipFiles([{ name: 'x.py', data: 'x'.repeat(300), declaredSize: 30 }]))).toEqual([
      'validation_failed',
      'x.py',
      'does not match its zip header (declared size or compressed data is wrong)',
    ]);
  });

  it('stops a bomb on counted bytes even when its header hides the size', async () => {
    // Declared 100 bytes, expands to 50 MiB: refused after a little over 100 bytes.
    const bomb = zeroBomb(50 * 1024 * 1024);
    const started = Date.now();
    expect((await refusal(zipFiles([{ name: 'z.txt', compressed: { ...bomb, size: 100 } }])))?.[1]).toBe('z.txt');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await refusal(zipFiles([{ name: 'z.txt', compressed: zeroBomb(200 * 1024) }]))).toEqual([
      'validation_failed',
      'z.txt',
      'expands more than 100:1 from its compressed size; this looks like a zip bomb',
    ]);
  });

  it('refuses something that is not a zip', async () => {
    const collector = new BundleCollector();
    expect(await refusal(readZip(Buffer.from('PK nothing here'), 'b.zip', collector))).toEqual([
      'validation_failed',
      'b.zip',
      'is not a valid zip archive (corrupt, truncated or not a zip)',
    ]);
  });
});

describe('readTarGz', () => {
  it('reads files and folders, including long (pax) names', async () => {
    const long = `dags/${'n'.repeat(120)}.py`;
    const bundle = await tarFiles(await buildTarGz([{ name: 'dags/', type: 'directory' }, { name: 'dags/a.py', data: 'a\n' }, { name: long, data: 'l\n' }]));
    expect(bundle.files.map((file) => file.path)).toEqual(['dags/a.py', long]);
  });

  it('refuses links and special files', async () => {
    for (const type of ['symlink', 'link'] as const) {
      expect((await refusal(tarFiles(await buildTarGz([{ name: 'x.py', type, linkname: 'y.py' }]))))?.[2]).toBe('is a symbolic or hard link; links are not accepted in a bundle');
    }
    for (const type of ['fifo', 'character-device', 'block-device'] as const) {
      expect((await refusal(tarFiles(await buildTarGz([{ name: 'x.py', type }]))))?.[2]).toBe('is a device, FIFO or socket; only regular files are accepted');
    }
  });

  it('refuses a truncated or corrupt archive, and gzip that holds no tar', async () => {
    const good = await buildTarGz([{ name: 'a.py', data: 'x'.repeat(2000) }]);
    const invalid = ['validation_failed', 'b.tgz', 'is not a valid .tar.gz archive (the gzip or tar data is corrupt or truncated)'];
    expect(await refusal(tarFiles(good.subarray(0, good.length - 30)))).toEqual(invalid);
    expect(await refusal(tarFiles(gzipSync('just text, no tar header here'.repeat(30))))).toEqual(invalid);
    expect(await refusal(tarFiles(await buildTar([{ name: 'a.py', data: 'x' }])))).toEqual(invalid);
  });

  it('stops a gzip stream that expands past the limit even when no entry is ever emitted', async () => {
    // Pax headers are swallowed by the tar parser, never counted as entries: 7 × 3.5 MiB of them, of random
    // bytes (so the ratio guard stays quiet), must be stopped by the byte meter on the gzip output.
    const template = (await buildTar([{ name: 'PaxHeader', data: '' }])).subarray(0, 512);
    const blocks: Buffer[] = [];
    for (let i = 0; i < 7; i++) {
      const header = Buffer.from(template);
      header[156] = 0x78; // 'x': a pax extended header
      const body = randomBytes(3.5 * 1024 * 1024);
      blocks.push(withTarSize(header, body.length), body);
    }
    blocks.push(await buildTar([{ name: 'a.py', data: 'x' }]));
    const started = Date.now();
    const result = await refusal(tarFiles(gzipSync(Buffer.concat(blocks), { level: 1 })));
    expect(result?.[0]).toBe('payload_too_large');
    expect(result?.[1]).toBe('b.tgz');
    expect(result?.[2]).toMatch(/^expands to more than \d+ bytes, beyond the limit on a bundle's total size/);
    // A bound against reading the whole stream, generous for a loaded 2-core machine.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('refuses a tar.gz whose files pass 20 MiB in all', async () => {
    const files = Array.from({ length: 21 }, (_, i) => ({ name: `f${String(i).padStart(2, '0')}.txt`, data: randomBytes(750_000).toString('base64').slice(0, 1_000_000) }));
    expect(await refusal(tarFiles(await buildTarGz(files)))).toEqual([
      'payload_too_large',
      'f20.txt',
      'brings the bundle over 20 MiB (the limit on the total size of its files)',
    ]);
  });
});

describe('BundleCollector', () => {
  it('counts files and refuses duplicates, case twins and empty uploads', () => {
    const collector = new BundleCollector();
    collector.add(collector.admit('a.py', false), Buffer.from('a'));
    expect(() => collector.admit('./a.py', false)).toThrow('a.py: appears twice in the upload');
    expect(() => collector.admit('A.py', false)).toThrow('A.py: differs from a.py only in letter case');
    expect(() => new BundleCollector().finish()).toThrow(/the upload holds no files/);
    expect(() => collector.admit('dir/', true)).toThrow('dir/: is a folder name, not a file');
  });
});
