import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createClient, type SkaledataClient } from '../sdk/index.js';
import { resolveCredentials, type Env } from './config-file.js';
import { usageError } from './errors.js';

/** The process's streams and environment, passed in (not read at import time). */
export interface Io {
  env: Env;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags every client command takes. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  token: { type: 'string' },
} as const satisfies Options;

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof COMMON_OPTIONS & O; strict: true; allowPositionals: true }>>;

/** node:util parseArgs, strict, with its complaints turned into usage errors (exit 2). */
export function parse<O extends Options>(args: string[], options: O, positionals: { min: number; max: number; names: string }): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, strict: true, allowPositionals: true });
  } catch (error) {
    // Node's message goes on about positionals after "--": the first sentence says what is wrong.
    const message = (error as Error).message;
    throw usageError(/^[^.]*\./.exec(message)?.[0].replace(/\.$/, '') ?? message);
  }
  if (parsed.positionals.length < positionals.min) throw usageError(`missing ${positionals.names}`);
  if (parsed.positionals.length > positionals.max) throw usageError(`unexpected argument "${parsed.positionals[positionals.max]}"`);
  return parsed;
}

/** A whole number of seconds (or lines) from a flag. */
export function wholeNumber(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) throw usageError(`${flag} must be a whole number from ${min} to ${max} (got "${value}")`);
  return number;
}

/** Results on stdout (JSON with --json), notes and progress on stderr. */
export class Output {
  private progressOpen = false;

  constructor(
    private readonly io: Io,
    readonly json: boolean,
  ) {}

  /** The command's result: `value` as JSON with --json, else the human lines. */
  result(value: unknown, human: () => string | string[]): void {
    this.endProgress();
    if (this.json) {
      this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      return;
    }
    const lines = human();
    for (const line of Array.isArray(lines) ? lines : [lines]) this.io.stdout.write(`${line}\n`);
  }

  /** A line for people (stderr, so stdout stays the result). */
  note(line: string): void {
    this.endProgress();
    this.io.stderr.write(`${line}\n`);
  }

  /**
   * Progress of a long wait. On a terminal a `running` line is rewritten in place and a finished one
   * stays; elsewhere (CI logs, pipes) each change is one plain line.
   */
  progress(line: string, final: boolean): void {
    if (!this.io.stderr.isTTY) {
      this.io.stderr.write(`${line}\n`);
      return;
    }
    this.io.stderr.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    this.progressOpen = !final;
  }

  private endProgress(): void {
    if (this.progressOpen) this.io.stderr.write('\n');
    this.progressOpen = false;
  }
}

export interface Session {
  client: SkaledataClient;
  out: Output;
  apiUrl: string;
}

/** The client for the resolved credentials (flags, then environment, then the config file). */
export function session(io: Io, values: { json?: boolean | undefined; 'api-url'?: string | undefined; 'api-key'?: string | undefined; token?: string | undefined }): Session {
  const out = new Output(io, values.json ?? false);
  const credentials = resolveCredentials(io.env, values, (line) => out.note(line));
  const client = clientFor(credentials.apiUrl, credentials);
  return { client, out, apiUrl: credentials.apiUrl };
}

export function clientFor(apiUrl: string, credential: { apiKey?: string | undefined; token?: string | undefined }): SkaledataClient {
  try {
    return createClient({
      baseUrl: apiUrl,
      ...(credential.apiKey ? { apiKey: credential.apiKey } : {}),
      ...(credential.token ? { token: credential.token } : {}),
      userAgent: 'skaledata-cli',
    });
  } catch (error) {
    throw usageError(`--api-url: ${(error as Error).message}`);
  }
}

/** A plain table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ['(none)'];
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
