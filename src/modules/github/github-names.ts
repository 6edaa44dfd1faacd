/**
 * The names a GitHub integration points at, checked the way GitHub and git check them, so a
 * misspelt setting is refused when it is saved rather than when the first sync fails. Each check
 * returns null when the value is fine, or a message a person can act on.
 */

/** GitHub user and organisation logins: 1–39 alphanumerics, single inner hyphens. */
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const REPOSITORY_NAME = /^[A-Za-z0-9._-]{1,100}$/;

/** ASCII control characters and DEL (and, for ref names, space), which git refuses in names. */
function hasControlCharacter(value: string, spaceToo: boolean): boolean {
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || (spaceToo && code === 0x20)) return true;
  }
  return false;
}

export function repositoryProblem(value: string): string | null {
  const slash = value.indexOf('/');
  if (slash === -1 || value.indexOf('/', slash + 1) !== -1) return 'must be "owner/name"';
  const owner = value.slice(0, slash);
  const name = value.slice(slash + 1);
  if (!OWNER.test(owner)) {
    return 'owner must be 1–39 letters, digits or single hyphens, and may not start or end with a hyphen';
  }
  if (!REPOSITORY_NAME.test(name)) return 'name must be 1–100 letters, digits, ".", "_" or "-"';
  if (name === '.' || name === '..') return 'name may not be "." or ".."';
  return null;
}

export const MAX_BRANCH_LENGTH = 255;

/**
 * A branch name as `git check-ref-format --branch` accepts it (git-check-ref-format(1), rules 1 and
 * 3–10, plus the two names `git branch` itself refuses: one starting with "-" and "HEAD").
 */
export function branchProblem(value: string): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_BRANCH_LENGTH) return `must be at most ${MAX_BRANCH_LENGTH} characters`;
  // Rules 4 and 5 (control characters, DEL, space, ~ ^ : ? * [) and rule 10 (backslash).
  if (hasControlCharacter(value, true) || /[~^:?*[\\]/.test(value)) {
    return 'must not contain spaces, control characters or any of ~ ^ : ? * [ \\';
  }
  if (value.includes('..')) return 'must not contain ".."';
  if (value.includes('@{')) return 'must not contain "@{"';
  if (value === '@') return 'must not be "@"';
  if (value.startsWith('/') || value.endsWith('/')) return 'must not start or end with "/"';
  if (value.includes('//')) return 'must not contain "//"';
  if (value.endsWith('.')) return 'must not end with "."';
  // `git branch -foo` would read the name as an option; HEAD names the checked-out commit.
  if (value.startsWith('-')) return 'must not start with "-"';
  if (value === 'HEAD') return 'must not be "HEAD"';
  for (const component of value.split('/')) {
    if (component.startsWith('.')) return 'each "/"-separated part must not start with "."';
    if (component.endsWith('.lock')) return 'each "/"-separated part must not end with ".lock"';
  }
  return null;
}

export const MAX_DAG_PATH_LENGTH = 255;
export const DEFAULT_DAG_PATH = 'dags/';

/**
 * A folder inside the repository. It is joined to the checkout on the sync side, so it must stay
 * inside it: relative, no ".." step, and no characters a path could be smuggled through.
 */
export function dagPathProblem(value: string): string | null {
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_DAG_PATH_LENGTH) return `must be at most ${MAX_DAG_PATH_LENGTH} characters`;
  if (hasControlCharacter(value, false)) return 'must not contain control characters';
  if (value.includes('\\')) return 'must use "/" as the separator, not "\\"';
  if (value.startsWith('/')) return 'must be relative to the repository root (no leading "/")';
  if (value.includes('//')) return 'must not contain "//"';
  if (value.split('/').includes('..')) return 'must not contain ".." segments';
  return null;
}
