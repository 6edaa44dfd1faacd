import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type pg from 'pg';
import { listenerApplicationName } from '../../src/db/notifications.js';
import { sharedTestClerk } from './clerk.js';
import { createScratchDatabase, type ScratchDatabase } from './database.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'bin/skaledata.js');
const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface ServerProcess {
  child: ChildProcess;
  baseUrl: string;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Starts `skaledata serve` as a real process (the compiled build) and waits for its banner. */
export async function startServer(env: Record<string, string>, port?: number): Promise<ServerProcess> {
  const listenPort = port ?? (await freePort());
  const child = spawn(process.execPath, [CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(listenPort), LOG_LEVEL: 'warn', AUTH_FAILURE_LIMIT: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const baseUrl = `http://127.0.0.1:${listenPort}`;
  const deadline = Date.now() + 15_000;
  while (!output.includes('listening on')) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, baseUrl, output: () => output, exited };
}

/** Two server processes of one deployment: one fresh scratch database, the same pepper, key and Clerk issuer. */
export interface ServerPair {
  scratch: ScratchDatabase;
  a: ServerProcess;
  b: ServerProcess;
  /** Stops both (SIGTERM, waiting for them) and drops the database. */
  stop(): Promise<void>;
}

/** Starts two instances on one new database, one after the other (the first migrates it), with `env` added. */
export async function startServerPair(env: Record<string, string> = {}): Promise<ServerPair> {
  const scratch = await createScratchDatabase();
  const shared = {
    DATABASE_URL: scratch.url,
    DATA_DIR: scratch.dataDir,
    CLERK_JWT_KEY: sharedTestClerk().publicKeyPem,
    API_KEY_PEPPER: randomBytes(32).toString('base64'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ...env,
  };
  const a = await startServer(shared);
  const b = await startServer(shared);
  return {
    scratch,
    a,
    b,
    async stop() {
      for (const server of [a, b]) {
        if (server.child.exitCode === null) {
          server.child.kill('SIGTERM');
          await server.exited;
        }
      }
      await scratch.drop();
    },
  };
}

/** One JSON request to a server process: its status and parsed body (null when empty). */
export async function callServer(server: ServerProcess, method: string, url: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(`${server.baseUrl}${url}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: (text === '' ? null : JSON.parse(text)) as Record<string, unknown> | null };
}

/** Runs the CLI to completion (e.g. dev-token) and returns its stdout. */
export async function runCli(args: string[], env: Record<string, string>): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
  return stdout;
}

export async function runCliExpectingFailure(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 15_000 });
  } catch (error) {
    const failure = error as { code?: number; stderr?: string };
    return { code: failure.code ?? -1, stderr: failure.stderr ?? '' };
  }
  throw new Error('the command succeeded');
}

/**
 * The PostgreSQL backend serving a server process's LISTEN connection on `channel` (found by its
 * application_name), or undefined while it has none (not yet connected, or reconnecting).
 */
export async function listenerBackendPid(sql: pg.Client, channel: string, server: ServerProcess): Promise<number | undefined> {
  const { rows } = await sql.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [listenerApplicationName(channel, server.child.pid)]);
  return rows[0]?.pid;
}
