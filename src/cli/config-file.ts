import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

export function readConfig(env: Env): StoredConfig | null {
  const file = configPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CliError(EXIT.usage, 'config_unreadable', `cannot read ${file}: ${(error as Error).message}`);
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

/** Writes the file with owner-only permissions, replacing any earlier one in one rename. */
export function writeConfig(env: Env, config: StoredConfig): string {
  const file = configPath(env);
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
  return file;
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

/** Flags, then SKALEDATA_API_KEY / SKALEDATA_TOKEN / SKALEDATA_API_URL, then the file. */
export function resolveCredentials(env: Env, flags: CredentialFlags): Credentials {
  const stored = readConfig(env);
  const apiUrl = flags['api-url'] ?? (env.SKALEDATA_API_URL?.trim() || undefined) ?? stored?.api_url ?? DEFAULT_API_URL;
  if (flags['api-key'] && flags.token) throw new CliError(EXIT.usage, 'usage', 'pass --api-key or --token, not both');
  if (flags['api-key']) return { apiUrl, apiKey: flags['api-key'], source: '--api-key' };
  if (flags.token) return { apiUrl, token: flags.token, source: '--token' };
  if (env.SKALEDATA_API_KEY?.trim()) return { apiUrl, apiKey: env.SKALEDATA_API_KEY.trim(), source: 'SKALEDATA_API_KEY' };
  if (env.SKALEDATA_TOKEN?.trim()) return { apiUrl, token: env.SKALEDATA_TOKEN.trim(), source: 'SKALEDATA_TOKEN' };
  if (stored?.api_key) return { apiUrl, apiKey: stored.api_key, source: configPath(env) };
  if (stored?.token) return { apiUrl, token: stored.token, source: configPath(env) };
  throw new CliError(EXIT.unauthenticated, 'unauthenticated', 'not logged in', 'run `skaledata login` (or set SKALEDATA_API_KEY)');
}
