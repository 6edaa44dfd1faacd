import { spawn } from 'node:child_process';
import path from 'node:path';
import { CLI } from './server-process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `skaledata <args>` (the compiled build) as its own process with only the variables given (plus
 * PATH), feeds `input` on stdin (or closes it), and returns the exit code and both streams.
 */
export async function skaledata(args: string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  return runNode(process.execPath, [CLI, ...args], env, input);
}

/** `node argv…` in the repository, as skaledata() runs it: for a script other than the CLI, or another Node. */
export async function runNode(node: string, argv: string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  const child = spawn(node, argv, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number>((resolve) => child.on('close', (exit, signal) => resolve(exit ?? (signal ? 128 : -1))));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** What a failure must look like: a first line naming the code, nothing like a stack trace. */
export function firstLine(run: CliRun): string {
  return run.stderr.split('\n')[0] ?? '';
}

export const hasStackTrace = (text: string): boolean => /\n\s+at .+[:(]\d+/.test(text) || /Error: .*\n\s+at /.test(text);
