import { StringDecoder } from 'node:string_decoder';
import { unwrap, type Me } from '../../sdk/index.js';
import { configPath, DEFAULT_API_URL, readConfig, removeConfig, writeConfig, type Env } from '../config-file.js';
import { CliError, usageError } from '../errors.js';
import { clientFor, Output, parse, session, type Io } from '../io.js';

/** `skaledata login`: checks the credential with GET /me, then stores it (0600). */
export async function login(io: Io, args: string[]): Promise<void> {
  const { values } = parse(args, { 'with-key-stdin': { type: 'boolean' }, 'with-token-stdin': { type: 'boolean' } }, { min: 0, max: 0, names: '' });
  const out = new Output(io, values.json ?? false);
  if (values['with-key-stdin'] && values['with-token-stdin']) throw usageError('pass --with-key-stdin or --with-token-stdin, not both');
  if (values['api-key'] && values.token) throw usageError('pass --api-key or --token, not both');
  const apiUrl = values['api-url'] ?? (io.env.SKALEDATA_API_URL?.trim() || undefined) ?? storedUrl(io.env) ?? DEFAULT_API_URL;

  let apiKey = values['api-key'];
  let token = values.token;
  if (!apiKey && !token) {
    const terminal = asTerminal(io.stdin);
    if (terminal) io.stderr.write('Paste an API key (skd_…) or a session token, then press Enter (it is not shown): ');
    const secret = terminal ? await readHidden(terminal, io.stderr) : await readFirstLine(io.stdin);
    if (!secret) throw usageError('no credential: pass --api-key or --token, or pipe one on stdin (--with-key-stdin)');
    const asToken = values['with-token-stdin'] || (!values['with-key-stdin'] && !secret.startsWith('skd_'));
    if (asToken) token = secret;
    else apiKey = secret;
  }

  const client = clientFor(apiUrl, { apiKey, token });
  const me = await unwrap(client.GET('/me'));
  const file = writeConfig(io.env, { api_url: apiUrl, ...(apiKey ? { api_key: apiKey } : { token: token ?? '' }) });
  if (io.env.SKALEDATA_API_KEY?.trim() || io.env.SKALEDATA_TOKEN?.trim()) {
    out.note('note: SKALEDATA_API_KEY / SKALEDATA_TOKEN is set in this environment and takes precedence over the file');
  }
  out.result({ api_url: apiUrl, config: file, me }, () => `logged in to ${apiUrl} as ${describe(me)}; saved to ${file}`);
}

export function logout(io: Io, args: string[]): void {
  const { values } = parse(args, {}, { min: 0, max: 0, names: '' });
  const out = new Output(io, values.json ?? false);
  const removed = removeConfig(io.env);
  out.result({ removed }, () => (removed ? `logged out (removed ${removed})` : `not logged in (no ${configPath(io.env)})`));
}

/** `skaledata whoami`: who the resolved credentials are (GET /me). */
export async function whoami(io: Io, args: string[]): Promise<void> {
  const { values } = parse(args, {}, { min: 0, max: 0, names: '' });
  const { client, out, apiUrl } = session(io, values);
  const me = await unwrap(client.GET('/me'));
  out.result({ api_url: apiUrl, me }, () => `${describe(me)} at ${apiUrl}`);
}

export function describe(me: Me): string {
  if (me.api_key) return `API key "${me.api_key.name}" (${me.api_key.id}) with scopes ${me.api_key.scopes.join(', ')} in account ${me.account_id}`;
  return `${me.email ?? me.user_id} (${me.user_id}) in account ${me.account_id}`;
}

function storedUrl(env: Env): string | undefined {
  try {
    return readConfig(env)?.api_url;
  } catch {
    return undefined; // A broken file is replaced by this login.
  }
}

/** The first non-empty line of stdin (a piped secret, or one typed at the prompt). */
async function readFirstLine(stdin: NodeJS.ReadableStream & { isTTY?: boolean }): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const line = text.split(/\r?\n/).find((item) => item.trim() !== '');
    if (line !== undefined && /\r?\n/.test(text.slice(text.indexOf(line)))) break;
    if (text.length > 16_384) break;
  }
  return text.split(/\r?\n/).map((line) => line.trim()).find((line) => line !== '') ?? '';
}

/** A terminal whose echo can be turned off (process.stdin on a TTY). */
export interface Terminal extends NodeJS.ReadableStream {
  isTTY?: boolean;
  isRaw?: boolean;
  setRawMode(raw: boolean): unknown;
}

function asTerminal(stdin: Io['stdin']): Terminal | null {
  const candidate = stdin as Partial<Terminal> & Io['stdin'];
  return candidate.isTTY && typeof candidate.setRawMode === 'function' ? (candidate as Terminal) : null;
}

/**
 * A secret typed or pasted at a terminal, not echoed: raw mode until Enter (Backspace edits, Ctrl-D
 * ends the input, Ctrl-C gives up with exit 130); the terminal's mode is restored whatever happens.
 */
export async function readHidden(terminal: Terminal, stderr: NodeJS.WritableStream): Promise<string> {
  const wasRaw = terminal.isRaw ?? false;
  terminal.setRawMode(true);
  let onData: (chunk: Buffer | string) => void = () => undefined;
  let onEnd: () => void = () => undefined;
  let onError: (error: Error) => void = () => undefined;
  try {
    const secret = await new Promise<string>((resolve, reject) => {
      const decoder = new StringDecoder('utf8');
      let typed = '';
      onData = (chunk) => {
        for (const char of typeof chunk === 'string' ? chunk : decoder.write(chunk)) {
          if (char === '\r' || char === '\n' || char === '\u0004') return resolve(typed);
          if (char === '\u0003') return reject(new CliError(130, 'interrupted', 'interrupted (Ctrl-C): nothing was stored'));
          if (char === '\u007f' || char === '\b') typed = Array.from(typed).slice(0, -1).join('');
          else if (char >= ' ') typed += char;
        }
      };
      onEnd = () => resolve(typed);
      onError = reject;
      terminal.on('data', onData);
      terminal.once('end', onEnd);
      terminal.once('error', onError);
      terminal.resume();
    });
    return secret.trim();
  } finally {
    terminal.off('data', onData);
    terminal.off('end', onEnd);
    terminal.off('error', onError);
    terminal.setRawMode(wasRaw);
    terminal.pause();
    stderr.write('\n');
  }
}
