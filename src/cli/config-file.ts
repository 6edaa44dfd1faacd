import { chmodSync, closeSync, fchmodSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliError, EXIT } from './errors.js';

/** Where the CLI talks to when nothing says otherwise. */
export const DEFAULT_API_URL = 'https://api.skaledata.com';

export type Env = Record<string, string | undefined>;

/** The file `skaledata login` writes (mode 0600 in a 0700 folder): one API URL and one credential. */
export interface StoredConfig {
  api_url: string;
  api_key?: string;
  token?: string;
}

/** $SKALEDATA_CONFIG, else $XDG_CONFIG_HOME/skaledata/config.json, else ~/.config/skaledata/config.json. */
export function configPath(env: Env): string {
  if (env.SKALEDATA_CONFIG?.trim()) return path.resolve(env.SKALEDATA_CONFIG);
  const base = env.XDG_CONFIG_HOME?.trim() ? env.XDG_CONFIG_HOME : path.join(env.HOME?.trim() ? env.HOME : homedir(), '.config');
  return path.join(base, 'skaledata', 'config.json');
}

/** Says one line (a warning) to the person running the CLI: stderr. */
export type Warn = (line: string) => void;

/**
 * The stored configuration, or null when there is none. A file other users may read still works, but
 * `warn` is told once (the secret in it may already have leaked: chmod 600, or log in again).
 */
export function readConfig(env: Env, warn?: Warn): StoredConfig | null {
  const file = configPath(env);
  let text: string;
  let mode: number;
  try {
    const fd = openSync(file, 'r');
    try {
      mode = fstatSync(fd).mode;
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(EXIT.usage, 'config_unreadable', `cannot read ${file}: ${(error as Error).message}`);
  }
  if (warn && process.platform !== 'win32' && (mode & 0o077) !== 0) {
    warn(`warning: ${file} is accessible by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 ${file}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoredConfig>;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.api_url !== 'string') throw new Error('no api_url');
    return {
      api_url: parsed.api_url,
      ...(typeof parsed.api_key === 'string' ? { api_key: parsed.api_key } : {}),
      ...(typeof parsed.token === 'string' ? { token: parsed.token } : {}),
    };
  } catch {
    throw new CliError(EXIT.usage, 'config_invalid', `${file} is not a configuration this CLI wrote`, 'run `skaledata login` again (or `skaledata logout` to remove it)');
  }
}

/**
 * Writes the file with owner-only permissions, replacing any earlier one in one rename. A folder this
 * call creates is made 0700; a folder that already exists keeps its mode (it may be /tmp or $HOME).
 */
export function writeConfig(env: Env, config: StoredConfig): string {
  const file = configPath(env);
  const dir = path.dirname(file);
  // mkdirSync returns the first folder it created (undefined when `dir` already existed).
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(dir, 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openExclusive(temporary);
  let renamed = false;
  try {
    try {
      fchmodSync(fd, 0o600);
      writeFileSync(fd, `${JSON.stringify(config, null, 2)}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
    renamed = true;
  } finally {
    if (!renamed) rmSync(temporary, { force: true });
  }
  return file;
}

/**
 * Creates `file` new (O_EXCL, mode 0600): never through a symlink, never into an existing file with a
 * wider mode. A leftover of an earlier run with the same pid (or a link planted there) is removed (the
 * link itself, not what it points to) and the creation tried once more.
 */
function openExclusive(file: string): number {
  try {
    return openSync(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  rmSync(file, { force: true });
  return openSync(file, 'wx', 0o600);
}

export function removeConfig(env: Env): string | null {
  const file = configPath(env);
  try {
    rmSync(file);
    return file;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

export interface Credentials {
  apiUrl: string;
  apiKey?: string;
  token?: string;
  /** Where the credential came from, for messages: `--api-key`, `SKALEDATA_API_KEY`, the file's path. */
  source: string;
}

export interface CredentialFlags {
  'api-url'?: string | undefined;
  'api-key'?: string | undefined;
  token?: string | undefined;
}

/**
 * Flags, then SKALEDATA_API_KEY / SKALEDATA_TOKEN / SKALEDATA_API_URL, then the file. The file is read only
 * when flags and environment leave the URL or the credential open: a CI job that sets both never
 * depends on it (a broken or unreadable one included).
 */
export function resolveCredentials(env: Env, flags: CredentialFlags, warn?: Warn): Credentials {
  if (flags['api-key'] && flags.token) throw new CliError(EXIT.usage, 'usage', 'pass --api-key or --token, not both');
  let given: Omit<Credentials, 'apiUrl'> | undefined;
  if (flags['api-key']) given = { apiKey: flags['api-key'], source: '--api-key' };
  else if (flags.token) given = { token: flags.token, source: '--token' };
  else if (env.SKALEDATA_API_KEY?.trim()) given = { apiKey: env.SKALEDATA_API_KEY.trim(), source: 'SKALEDATA_API_KEY' };
  else if (env.SKALEDATA_TOKEN?.trim()) given = { token: env.SKALEDATA_TOKEN.trim(), source: 'SKALEDATA_TOKEN' };
  const givenUrl = flags['api-url'] ?? (env.SKALEDATA_API_URL?.trim() || undefined);
  if (given && givenUrl) return { apiUrl: givenUrl, ...given };

  const stored = readConfig(env, warn);
  const apiUrl = givenUrl ?? stored?.api_url ?? DEFAULT_API_URL;
  if (given) return { apiUrl, ...given };
  if (stored?.api_key) return { apiUrl, apiKey: stored.api_key, source: configPath(env) };
  if (stored?.token) return { apiUrl, token: stored.token, source: configPath(env) };
  throw new CliError(EXIT.unauthenticated, 'unauthenticated', 'not logged in', 'run `skaledata login` (or set SKALEDATA_API_KEY)');
}
