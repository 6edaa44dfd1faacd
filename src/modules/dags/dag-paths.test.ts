import { describe, expect, it } from 'vitest';
import { AppError } from '../../http/errors.js';
import { checkFileContent, checkFileType, isBundleArchiveName, normalizeBundlePath } from './dag-paths.js';

/** The refusal a check throws, as [code, message] (or null when it accepts). */
function refusal(check: () => unknown): [string, string] | null {
  try {
    check();
    return null;
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    return [error.code, String(error.extras.errors?.[0]?.message)];
  }
}

const TRAVERSAL = 'contains path traversal (..); use a path relative to the bundle root';
const ABSOLUTE = 'is an absolute path; use a path relative to the bundle root, e.g. dags/etl.py';
const CHARSET = 'may contain only letters, digits, spaces and . _ - + = @ , in its name and folders';

describe('normalizeBundlePath', () => {
  it.each([
    ['etl.py', 'etl.py'],
    ['dags/etl.py', 'dags/etl.py'],
    ['./dags/./etl.py', 'dags/etl.py'],
    ['dags//etl.py', 'dags/etl.py'],
    ['dags\\sub\\etl.py', 'dags/sub/etl.py'],
    ['data/my report 2026.csv', 'data/my report 2026.csv'],
    ['.airflowignore', '.airflowignore'],
    ['dags/v1.2/etl-job_a+b=c@d,e.py', 'dags/v1.2/etl-job_a+b=c@d,e.py'],
  ])('%s → %s', (raw, expected) => {
    expect(normalizeBundlePath(raw)).toBe(expected);
  });

  it.each([
    ['../x.py', TRAVERSAL],
    ['dags/../../x.py', TRAVERSAL],
    ['..\\x.py', TRAVERSAL],
    ['dags\\..\\..\\x.py', TRAVERSAL],
    ['%2e%2e/x.py', TRAVERSAL],
    ['%2E%2E%2Fx.py', TRAVERSAL],
    ['..%5cx.py', TRAVERSAL],
    ['%252e%252e%252fx.py', TRAVERSAL],
    ['．．/x.py', TRAVERSAL],
    ['dags/.. /x.py', TRAVERSAL],
    ['/x.py', ABSOLUTE],
    ['\\x.py', ABSOLUTE],
    ['\\\\server\\share\\x.py', ABSOLUTE],
    ['C:\\x.py', ABSOLUTE],
    ['c:x.py', ABSOLUTE],
    ['%2fetc%2fx.py', ABSOLUTE],
    ['／etc/x.py', ABSOLUTE],
    ['dags/x\u0000.py', 'contains control characters'],
    ['dags/x\n.py', 'contains control characters'],
    ['dags/x%00.py', 'contains control characters'],
    ['dags/x\u0085.py', 'contains control characters'],
    ['dags/$(x).py', CHARSET],
    ['dags/x;rm.py', CHARSET],
    ['dags/ x.py', CHARSET],
    ['dags/x%41.py', CHARSET],
    ['dags/é.py', CHARSET],
    ['   ', 'has no file name; name each file with its path in the bundle, e.g. dags/etl.py'],
    ['./', 'names no file'],
    [`${'a/'.repeat(16)}x.py`, 'is nested more than 16 folders deep'],
    [`${'a'.repeat(256)}.py`, 'is longer than 255 characters'],
  ])('refuses %j: %s', (raw, message) => {
    expect(refusal(() => normalizeBundlePath(raw))).toEqual(['validation_failed', message]);
  });
});

describe('checkFileType', () => {
  it.each(['a.py', 'A.PY', 'q.sql', 'c.json', 'c.yaml', 'c.yml', 'r.txt', 'r.md', 'd.csv', 'x.cfg', 'x.ini', 'dags/.airflowignore'])('accepts %s', (path) => {
    expect(refusal(() => checkFileType(path, false))).toBeNull();
  });

  it.each(['run.sh', 'x.pyc', 'lib.so', 'Makefile', 'x.py.bak', '.env', 'x.'])('refuses %s as a type', (path) => {
    expect(refusal(() => checkFileType(path, true))?.[1]).toMatch(/^has a file type that is not accepted: only \.py files/);
  });

  it.each(['x.zip', 'x.tar', 'x.tar.gz', 'x.tgz', 'x.whl', 'x.7z', 'x.gz'])('refuses %s as a nested archive', (path) => {
    expect(refusal(() => checkFileType(path, true))?.[1]).toBe('is an archive inside the bundle; nested archives are not accepted');
  });

  it('tells which archives are bundles', () => {
    expect(['a.zip', 'A.ZIP', 'a.tar.gz', 'a.tgz', 'a.tar', 'a.gz', 'a.py'].map(isBundleArchiveName)).toEqual(['zip', 'zip', 'tar.gz', 'tar.gz', null, null, null]);
  });
});

describe('checkFileContent', () => {
  it('accepts UTF-8 Python (BOM included) and any bytes in a data file', () => {
    expect(refusal(() => checkFileContent('a.py', Buffer.from('\ufeffprint("héllo ✓")\n')))).toBeNull();
    expect(refusal(() => checkFileContent('a.csv', Buffer.from([0x61, 0xe9, 0x0a])))).toBeNull();
    expect(refusal(() => checkFileContent('empty.py', Buffer.alloc(0)))).toBeNull();
  });

  it.each([
    ['lone continuation byte', [0x80]],
    ['latin-1 é', [0x63, 0x61, 0x66, 0xe9]],
    ['truncated sequence', [0xe2, 0x82]],
    ['overlong slash', [0xc0, 0xaf]],
    ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
  ])('refuses non-UTF-8 Python: %s', (_name, bytes) => {
    expect(refusal(() => checkFileContent('a.py', Buffer.from(bytes)))).toEqual(['validation_failed', 'is not valid UTF-8; Python DAG files must be UTF-8 text']);
  });

  it.each([
    ['zip', [0x50, 0x4b, 0x03, 0x04, 0, 0]],
    ['gzip', [0x1f, 0x8b, 0x08, 0]],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ])('refuses a %s hidden in a data file', (_name, bytes) => {
    expect(refusal(() => checkFileContent('x.txt', Buffer.from(bytes)))?.[1]).toBe('holds an archive (nested archives are not accepted)');
  });

  it('refuses a tar hidden in a data file', () => {
    const tarLike = Buffer.alloc(600);
    tarLike.write('ustar', 257, 'ascii');
    expect(refusal(() => checkFileContent('x.json', tarLike))?.[1]).toBe('holds an archive (nested archives are not accepted)');
  });
});
