import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { buildTar, buildTarGz, buildZip, multipartBody, withTarSize, zeroBomb, type FormPart } from '../helpers/dags-archives.js';
import { createTestApp, dagFootprint, type TestApp } from '../helpers/dags-fixtures.js';

/**
 * Every upload here is refused with a 4xx that names the offending file, and leaves nothing behind:
 * no bundle row, no sync job, no blob on disk (issue 3: "each a 4xx and nothing stored").
 */

const MiB = 1024 * 1024;
const DAG = 'print("ok")\n';
const TRAVERSAL = 'contains path traversal (..); use a path relative to the bundle root';
const ABSOLUTE = 'is an absolute path; use a path relative to the bundle root, e.g. dags/etl.py';
const LINK = 'is a symbolic or hard link; links are not accepted in a bundle';
const SPECIAL = 'is a device, FIFO or socket; only regular files are accepted';
const WRONG_TYPE =
  'has a file type that is not accepted: only .py files and data files (.sql, .json, .yaml, .yml, .txt, .md, .csv, .cfg, .ini) or .airflowignore may be uploaded';
const NOT_UTF8 = 'is not valid UTF-8; Python DAG files must be UTF-8 text';
const NO_FILES = 'the upload holds no files; send .py files or one .zip/.tar.gz bundle in parts named "file"';
const BAD_TGZ = 'is not a valid .tar.gz archive (the gzip or tar data is corrupt or truncated)';
const LYING_ZIP = 'does not match its zip header (declared size or compressed data is wrong)';

interface AttackCase {
  name: string;
  parts: () => FormPart[] | Promise<FormPart[]>;
  status: 400 | 413;
  path: string;
  message: string;
}

const loose = (...names: string[]): FormPart[] => names.map((filename) => ({ filename, data: DAG }));
const zipOf = (entries: Parameters<typeof buildZip>[0], filename = 'bundle.zip'): FormPart[] => [{ filename, data: buildZip(entries) }];
const tgzOf = async (entries: Parameters<typeof buildTarGz>[0], filename = 'bundle.tar.gz'): Promise<FormPart[]> => [{ filename, data: await buildTarGz(entries) }];
/** Text that deflate cannot shrink much, so only the size limits (not the ratio guard) apply. */
const incompressible = (bytes: number): string => randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').slice(0, bytes);

const CASES: AttackCase[] = [
  // Path traversal and absolute paths, however they are spelled, as loose files.
  { name: 'loose ../', parts: () => loose('../evil.py'), status: 400, path: '../evil.py', message: TRAVERSAL },
  { name: 'loose ..\\', parts: () => loose('..\\evil.py'), status: 400, path: '..\\evil.py', message: TRAVERSAL },
  { name: 'loose ../ inside a path', parts: () => loose('dags/./../../evil.py'), status: 400, path: 'dags/./../../evil.py', message: TRAVERSAL },
  { name: 'percent-encoded ../', parts: () => loose('%2e%2e%2fevil.py'), status: 400, path: '%2e%2e%2fevil.py', message: TRAVERSAL },
  { name: 'double-encoded ../', parts: () => loose('%252e%252e%252fevil.py'), status: 400, path: '%252e%252e%252fevil.py', message: TRAVERSAL },
  { name: 'full-width ../', parts: () => loose('．．/evil.py'), status: 400, path: '．．/evil.py', message: TRAVERSAL },
  { name: 'absolute /x', parts: () => loose('/etc/evil.py'), status: 400, path: '/etc/evil.py', message: ABSOLUTE },
  { name: 'absolute C:\\x', parts: () => loose('C:\\dags\\evil.py'), status: 400, path: 'C:\\dags\\evil.py', message: ABSOLUTE },
  { name: 'UNC \\\\server', parts: () => loose('\\\\server\\share\\evil.py'), status: 400, path: '\\\\server\\share\\evil.py', message: ABSOLUTE },
  { name: 'percent-encoded absolute', parts: () => loose('%2fetc%2fevil.py'), status: 400, path: '%2fetc%2fevil.py', message: ABSOLUTE },
  {
    name: 'shell characters',
    parts: () => loose('dags/$(reboot).py'),
    status: 400,
    path: 'dags/$(reboot).py',
    message: 'may contain only letters, digits, spaces and . _ - + = @ , in its name and folders',
  },
  // Types, content and duplicates.
  { name: 'a shell script', parts: () => loose('deploy.sh'), status: 400, path: 'deploy.sh', message: WRONG_TYPE },
  { name: 'compiled python', parts: () => loose('dags/cache.pyc'), status: 400, path: 'dags/cache.pyc', message: WRONG_TYPE },
  {
    name: 'a loose .tar',
    parts: () => loose('bundle.tar'),
    status: 400,
    path: 'bundle.tar',
    message: 'is an archive of a kind not accepted; upload one .zip, .tar.gz or .tgz bundle, or loose files',
  },
  { name: 'a zip disguised as .txt', parts: () => [{ filename: 'notes.txt', data: buildZip([{ name: 'a.py', data: DAG }]) }], status: 400, path: 'notes.txt', message: 'holds an archive (nested archives are not accepted)' },
  { name: 'non-UTF-8 python', parts: () => [{ filename: 'dags/latin.py', data: Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]) }], status: 400, path: 'dags/latin.py', message: NOT_UTF8 },
  { name: 'the same path twice', parts: () => loose('dags/a.py', 'dags/b.py', 'dags/a.py'), status: 400, path: 'dags/a.py', message: 'appears twice in the upload' },
  { name: 'paths differing only in case', parts: () => loose('dags/A.py', 'dags/a.py'), status: 400, path: 'dags/a.py', message: 'differs from dags/A.py only in letter case' },
  { name: 'a file used as a folder', parts: () => loose('dags/a.py', 'dags/a.py/b.py'), status: 400, path: 'dags/a.py/b.py', message: 'lies under dags/a.py, which is a file' },
  // Sizes and counts.
  { name: 'a loose file over 1 MiB', parts: () => [{ filename: 'big.py', data: `#${'x'.repeat(MiB)}` }], status: 413, path: 'big.py', message: 'is larger than 1 MiB (the limit per file)' },
  {
    name: 'loose files over 20 MiB in all',
    parts: () => Array.from({ length: 21 }, (_, i) => ({ filename: `data/f${String(i).padStart(2, '0')}.csv`, data: 'x'.repeat(MiB) })),
    status: 413,
    path: 'data/f20.csv',
    message: 'brings the bundle over 20 MiB (the limit on the total size of its files)',
  },
  {
    name: '1001 files',
    parts: () => Array.from({ length: 1001 }, (_, i) => ({ filename: `dags/f${i}.py`, data: DAG })),
    status: 413,
    path: 'dags/f1000.py',
    message: 'is one file too many: a bundle holds at most 1000 files',
  },
  // Zip archives.
  { name: 'zip ../', parts: () => zipOf([{ name: 'ok.py', data: DAG }, { name: '../evil.py', data: DAG }]), status: 400, path: '../evil.py', message: TRAVERSAL },
  { name: 'zip absolute', parts: () => zipOf([{ name: '/abs/evil.py', data: DAG }]), status: 400, path: '/abs/evil.py', message: ABSOLUTE },
  { name: 'zip C:\\ name', parts: () => zipOf([{ name: 'C:\\evil.py', data: DAG }]), status: 400, path: 'C:\\evil.py', message: ABSOLUTE },
  { name: 'zip symlink', parts: () => zipOf([{ name: 'dags/link.py', data: '/etc/passwd', unixMode: 0o120777 }]), status: 400, path: 'dags/link.py', message: LINK },
  { name: 'zip FIFO', parts: () => zipOf([{ name: 'dags/pipe.py', data: '', unixMode: 0o010644 }]), status: 400, path: 'dags/pipe.py', message: SPECIAL },
  { name: 'zip duplicate', parts: () => zipOf([{ name: 'a.py', data: DAG }, { name: './a.py', data: DAG }]), status: 400, path: 'a.py', message: 'appears twice in the upload' },
  { name: 'zip nested zip', parts: () => zipOf([{ name: 'inner.zip', data: buildZip([{ name: 'a.py', data: DAG }]) }]), status: 400, path: 'inner.zip', message: 'is an archive inside the bundle; nested archives are not accepted' },
  { name: 'zip gzip in .json', parts: () => zipOf([{ name: 'conf.json', data: gzipSync('{}') }]), status: 400, path: 'conf.json', message: 'holds an archive (nested archives are not accepted)' },
  { name: 'zip executable', parts: () => zipOf([{ name: 'bin/run.exe', data: 'MZ' }]), status: 400, path: 'bin/run.exe', message: WRONG_TYPE },
  {
    name: 'zip name not UTF-8',
    parts: () => zipOf([{ name: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x70, 0x79]), data: DAG, utf8: false }]),
    status: 400,
    path: 'bundle.zip: café.py',
    message: 'has a file name that is not UTF-8; re-create the zip with UTF-8 names',
  },
  { name: 'zip non-UTF-8 python', parts: () => zipOf([{ name: 'x.py', data: Buffer.from([0xc3, 0x28]) }]), status: 400, path: 'x.py', message: NOT_UTF8 },
  { name: 'zip encrypted entry', parts: () => zipOf([{ name: 'secret.py', data: DAG, extraFlags: 1 }]), status: 400, path: 'secret.py', message: 'is encrypted; upload files without a password' },
  { name: 'zip file over 1 MiB', parts: () => zipOf([{ name: 'big.py', data: incompressible(MiB + 1) }]), status: 413, path: 'big.py', message: 'declares 1048577 bytes, more than 1048576 (the limit per file)' },
  { name: 'zip header says fewer bytes than the data', parts: () => zipOf([{ name: 'liar.py', data: 'x'.repeat(5000), declaredSize: 100 }]), status: 400, path: 'liar.py', message: LYING_ZIP },
  { name: 'zip header says more bytes than the data', parts: () => zipOf([{ name: 'liar.py', data: 'x'.repeat(100), declaredSize: 5000 }]), status: 400, path: 'liar.py', message: LYING_ZIP },
  {
    name: 'zip ratio bomb (512 KiB of zeros from a few hundred bytes)',
    parts: () => zipOf([{ name: 'zeros.txt', compressed: zeroBomb(512 * 1024) }]),
    status: 400,
    path: 'zeros.txt',
    message: 'expands more than 100:1 from its compressed size; this looks like a zip bomb',
  },
  { name: 'not a zip', parts: () => [{ filename: 'broken.zip', data: randomBytes(4096) }], status: 400, path: 'broken.zip', message: 'is not a valid zip archive (corrupt, truncated or not a zip)' },
  { name: 'an empty zip', parts: () => zipOf([]), status: 400, path: 'file', message: NO_FILES },
  {
    name: 'a zip declaring 5000 entries',
    parts: () => {
      const zip = buildZip([{ name: 'a.py', data: DAG }]);
      zip.writeUInt16LE(5000, zip.length - 14);
      zip.writeUInt16LE(5000, zip.length - 12);
      return [{ filename: 'many.zip', data: zip }];
    },
    status: 413,
    path: 'many.zip',
    message: 'declares 5000 entries; an upload holds at most 2000 (1000 files)',
  },
  // tar.gz archives.
  { name: 'tar symlink', parts: () => tgzOf([{ name: 'dags/link.py', type: 'symlink', linkname: '/etc/passwd' }]), status: 400, path: 'dags/link.py', message: LINK },
  { name: 'tar hard link', parts: () => tgzOf([{ name: 'a.py', data: DAG }, { name: 'b.py', type: 'link', linkname: 'a.py' }]), status: 400, path: 'b.py', message: LINK },
  { name: 'tar FIFO', parts: () => tgzOf([{ name: 'pipe.py', type: 'fifo' }]), status: 400, path: 'pipe.py', message: SPECIAL },
  { name: 'tar character device', parts: () => tgzOf([{ name: 'dev.py', type: 'character-device' }]), status: 400, path: 'dev.py', message: SPECIAL },
  { name: 'tar ../', parts: () => tgzOf([{ name: '../../etc/evil.py', data: DAG }]), status: 400, path: '../../etc/evil.py', message: TRAVERSAL },
  { name: 'tar absolute', parts: () => tgzOf([{ name: '/etc/cron.d/evil.py', data: DAG }]), status: 400, path: '/etc/cron.d/evil.py', message: ABSOLUTE },
  { name: 'tar nested archive', parts: () => tgzOf([{ name: 'deps.tar.gz', data: DAG }]), status: 400, path: 'deps.tar.gz', message: 'is an archive inside the bundle; nested archives are not accepted' },
  {
    name: 'tar header says more bytes than the data',
    parts: async () => [{ filename: 'liar.tgz', data: gzipSync(withTarSize(await buildTar([{ name: 'a.py', data: 'x'.repeat(100) }]), 50_000)) }],
    status: 400,
    path: 'liar.tgz',
    message: BAD_TGZ,
  },
  { name: 'a plain tar named .tgz', parts: async () => [{ filename: 'plain.tgz', data: await buildTar([{ name: 'a.py', data: DAG }]) }], status: 400, path: 'plain.tgz', message: BAD_TGZ },
  {
    name: 'gzip bomb (30 entries of 900 KiB zeros)',
    parts: () => tgzOf(Array.from({ length: 30 }, (_, i) => ({ name: `z${i}.txt`, data: Buffer.alloc(900 * 1024) })), 'bomb.tar.gz'),
    status: 400,
    path: 'bomb.tar.gz',
    message: 'expands more than 100:1 from its compressed size; this looks like a gzip bomb',
  },
  // The shape of the request.
  {
    name: 'an archive with loose files',
    parts: () => [...loose('dags/a.py'), { filename: 'bundle.zip', data: buildZip([{ name: 'b.py', data: DAG }]) }],
    status: 400,
    path: 'bundle.zip',
    message: 'cannot be sent with other files: upload either loose files or exactly one .zip/.tar.gz bundle',
  },
  {
    name: 'two archives',
    parts: () => [...zipOf([{ name: 'a.py', data: DAG }]), ...zipOf([{ name: 'b.py', data: DAG }], 'second.zip')],
    status: 400,
    path: 'second.zip',
    message: 'cannot be sent with other files: upload either loose files or exactly one .zip/.tar.gz bundle',
  },
  { name: 'a form field', parts: () => [{ field: 'message', data: 'hi' }, ...loose('a.py')], status: 400, path: 'form.message', message: 'is not an accepted form field; send only files, in parts named "file"' },
  { name: 'a file in another field', parts: () => [{ field: 'upload', filename: 'a.py', data: DAG }], status: 400, path: 'form.upload', message: 'is not an accepted form field; send each file in a part named "file"' },
  { name: 'no parts at all', parts: () => [], status: 400, path: 'file', message: NO_FILES },
];

describe(`DAG upload refusals (${TEST_DIALECT})`, () => {
  let h: Harness;
  let owner: Account;
  let app: TestApp;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    owner = await h.newAccount();
    app = await createTestApp(h, owner);
  });
  afterAll(async () => h.close());

  const send = async (parts: FormPart[], extraHeaders: Record<string, string> = {}) => {
    const body = multipartBody(parts);
    return h.inject({ method: 'POST', url: `/apps/${app.appId}/dags`, headers: { ...owner.auth, ...body.headers, ...extraHeaders }, payload: body.payload });
  };

  it.each(CASES)('$name → $status naming $path; nothing stored', async ({ parts, status, path, message }) => {
    const before = await dagFootprint(h);
    const response = await send(await parts());
    expect(response.statusCode, response.body).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = response.json() as Problem;
    expect(problem.code).toBe(status === 413 ? 'payload_too_large' : 'validation_failed');
    expect(problem.errors).toEqual([{ path, message }]);
    expect(problem.detail).toBe(`${path}: ${message}`);
    expect(await dagFootprint(h)).toEqual(before);
  });

  it('a 100 MB zip bomb is refused quickly, whether its headers tell the truth or lie', async () => {
    const bomb = zeroBomb(100 * MiB);
    expect(bomb.data.length).toBeLessThan(200 * 1024);
    const before = await dagFootprint(h);
    const honest = { name: 'bomb.py', compressed: bomb };
    const lying = { name: 'bomb.py', compressed: { ...bomb, size: 1000 } };
    const started = Date.now();
    const refusedByHeader = await send(zipOf([honest]));
    const refusedByCount = await send(zipOf([lying]));
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(refusedByHeader.statusCode).toBe(413);
    expect((refusedByHeader.json() as Problem).errors).toEqual([{ path: 'bomb.py', message: 'declares 104857600 bytes, more than 1048576 (the limit per file)' }]);
    expect(refusedByCount.statusCode).toBe(400);
    expect((refusedByCount.json() as Problem).errors).toEqual([{ path: 'bomb.py', message: LYING_ZIP }]);
    expect(await dagFootprint(h)).toEqual(before);
  });

  it('a Content-Length over the limit answers 413 before anything is read; a malformed body answers 400', async () => {
    const before = await dagFootprint(h);
    const big = await send(loose('a.py'), { 'content-length': String(30 * MiB) });
    expect(big.statusCode).toBe(413);
    expect((big.json() as Problem).detail).toBe('A DAG upload may be at most 24117248 bytes.');
    const noBoundary = await h.inject({
      method: 'POST',
      url: `/apps/${app.appId}/dags`,
      headers: { ...owner.auth, 'content-type': 'multipart/form-data' },
      payload: Buffer.from('--x\r\nContent-Disposition: form-data; name="file"; filename="a.py"\r\n\r\nx\r\n--x--\r\n'),
    });
    expect(noBoundary.statusCode).toBe(400);
    expect((noBoundary.json() as Problem).errors).toEqual([{ path: 'body', message: 'is not a well-formed multipart/form-data body' }]);
    const truncated = await h.inject({
      method: 'POST',
      url: `/apps/${app.appId}/dags`,
      headers: { ...owner.auth, 'content-type': 'multipart/form-data; boundary=x' },
      payload: Buffer.from('--x\r\nContent-Disposition: form-data; name="file"; filename="a.py"\r\n\r\nprint(1)'),
    });
    expect(truncated.statusCode).toBe(400);
    expect(await dagFootprint(h)).toEqual(before);
  });
});
