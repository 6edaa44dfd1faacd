import { describe, expect, it } from 'vitest';
import { branchProblem, dagPathProblem, repositoryProblem } from './github-names.js';

describe('repositoryProblem (GitHub owner/name rules)', () => {
  it.each([
    'octocat/hello-world',
    'a/b',
    'A1-b2/x',
    `${'o'.repeat(39)}/repo`,
    `owner/${'n'.repeat(100)}`,
    'owner/.github',
    'owner/my.repo_name-2',
    'owner/...',
    'owner/-leading-hyphen-is-fine-in-names',
  ])('accepts %s', (value) => {
    expect(repositoryProblem(value)).toBeNull();
  });

  it.each([
    ['no-slash', 'must be "owner/name"'],
    ['a/b/c', 'must be "owner/name"'],
    ['/repo', 'owner must be'],
    ['owner/', 'name must be'],
    ['-owner/repo', 'owner must be'],
    ['owner-/repo', 'owner must be'],
    ['own--er/repo', 'owner must be'],
    ['own_er/repo', 'owner must be'],
    ['own.er/repo', 'owner must be'],
    [`${'o'.repeat(40)}/repo`, 'owner must be'],
    [`owner/${'n'.repeat(101)}`, 'name must be'],
    ['owner/.', 'name may not be "." or ".."'],
    ['owner/..', 'name may not be "." or ".."'],
    ['owner/re po', 'name must be'],
    ['owner/répo', 'name must be'],
    ['owner/repo\n', 'name must be'],
  ])('refuses %j: %s', (value, message) => {
    expect(repositoryProblem(value)).toContain(message);
  });
});

describe('branchProblem (git check-ref-format --branch)', () => {
  it.each([
    'main',
    'feature/new-dags',
    'release/2024.06',
    'v1.2.3',
    'user@host',
    'a.b.c',
    'fix/ünïcode',
    'x'.repeat(255),
    'HEADS',
    'foo.locked',
    'a/b/c/d',
  ])('accepts %s', (value) => {
    expect(branchProblem(value)).toBeNull();
  });

  it.each([
    ['', 'must not be empty'],
    ['x'.repeat(256), 'at most 255'],
    ['has space', 'must not contain spaces'],
    ['tab\there', 'must not contain spaces'],
    ['nul\u0000', 'must not contain spaces'],
    ['del\u007f', 'must not contain spaces'],
    ['tilde~1', '~ ^ :'],
    ['caret^', '~ ^ :'],
    ['co:lon', '~ ^ :'],
    ['what?', '~ ^ :'],
    ['star*', '~ ^ :'],
    ['br[acket', '~ ^ :'],
    ['back\\slash', '~ ^ :'],
    ['a..b', 'must not contain ".."'],
    ['at@{1}', 'must not contain "@{"'],
    ['@', 'must not be "@"'],
    ['/leading', 'must not start or end with "/"'],
    ['trailing/', 'must not start or end with "/"'],
    ['double//slash', 'must not contain "//"'],
    ['ends.', 'must not end with "."'],
    ['main.lock', 'part must not end with ".lock"'],
    ['a.lock/b', 'part must not end with ".lock"'],
    ['.hidden', 'part must not start with "."'],
    ['a/.hidden', 'part must not start with "."'],
    ['-option', 'must not start with "-"'],
    ['HEAD', 'must not be "HEAD"'],
  ])('refuses %j: %s', (value, message) => {
    expect(branchProblem(value)).toContain(message);
  });
});

describe('dagPathProblem (a folder inside the repository)', () => {
  it.each(['dags/', 'dags', 'airflow/dags/', 'a/b/c', '.', './dags', 'dags..v2/', 'd'.repeat(255)])('accepts %s', (value) => {
    expect(dagPathProblem(value)).toBeNull();
  });

  it.each([
    ['', 'must not be empty'],
    ['d'.repeat(256), 'at most 255'],
    ['/etc/passwd', 'no leading "/"'],
    ['..', '".." segments'],
    ['../outside', '".." segments'],
    ['dags/../../outside', '".." segments'],
    ['dags/..', '".." segments'],
    ['dags//x', 'must not contain "//"'],
    ['dags\\x', 'not "\\"'],
    ['dags\u0000', 'control characters'],
    ['dags\n', 'control characters'],
  ])('refuses %j: %s', (value, message) => {
    expect(dagPathProblem(value)).toContain(message);
  });
});
