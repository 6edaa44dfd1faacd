import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SkaledataConnectionError, SkaledataOperationError, SkaledataPaginationError, SkaledataProblem, SkaledataTimeoutError } from '../sdk/index.js';
import { readHidden, type Terminal } from './commands/session.js';
import { configPath, readConfig, resolveCredentials, writeConfig } from './config-file.js';
import { EXIT, renderError, scopeHint, usageError } from './errors.js';
import { Output, type Io } from './io.js';

function fakeIo(tty: boolean): { io: Io; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io = {
    env: {},
    stdin: process.stdin,
    stdout: { write: (text: string) => ((out += text), true) },
    stderr: { isTTY: tty, write: (text: string) => ((err += text), true) },
  } as unknown as Io;
  return { io, out: () => out, err: () => err };
}

describe('CLI exit codes and messages', () => {
  const problem = (body: Record<string, unknown>) => new SkaledataProblem({ status: 403, code: 'x', ...body } as never, { method: 'GET', url: '/jobs/job_1' });

  it('a missing scope: the seed sentence with its code, then the scope to add and the presets that hold it', () => {
    const rendered = renderError(problem({ code: 'insufficient_scope', detail: 'API key missing required scope: jobs:read', required_scope: 'jobs:read' }));
    expect(rendered.exitCode).toBe(EXIT.refused);
    expect(rendered.lines).toEqual(['error: API key missing required scope: jobs:read (insufficient_scope)', 'add the scope jobs:read to this key, or create one with --preset monitoring']);
    expect(scopeHint('clusters:read')).toBe('add the scope clusters:read to this key, or create one with --preset ci-deploy or --preset monitoring or --preset cluster-automation');
    expect(scopeHint('terminal:exec')).toBe('add the scope terminal:exec to this key, or create one with --scope terminal:exec');
  });

  it('maps each kind of failure to its exit code', () => {
    expect(renderError(problem({ status: 401, code: 'invalid_token', detail: 'revoked' })).exitCode).toBe(EXIT.unauthenticated);
    expect(renderError(problem({ status: 404, code: 'not_found', detail: 'No cluster' })).exitCode).toBe(EXIT.refused);
    expect(renderError(new SkaledataConnectionError('http://x', new Error('boom'))).exitCode).toBe(EXIT.unreachable);
    expect(renderError(new SkaledataOperationError('job failed', { code: 'job_failed', status: 'failed' })).exitCode).toBe(EXIT.failed);
    expect(renderError(new SkaledataTimeoutError('too long')).exitCode).toBe(EXIT.timeout);
    expect(renderError(usageError('--name is required')).lines[0]).toBe('error: --name is required (usage)');
    expect(renderError(new Error('surprise')).lines).toEqual(['error: surprise (internal)']);
    expect(renderError(new SkaledataPaginationError('/clusters', 'c1', 2))).toMatchObject({ exitCode: EXIT.refused, lines: ['error: GET /clusters: page 2 gave next_cursor "c1" again; stopped instead of fetching the same pages forever (cursor_repeated)'] });
  });
});

describe('CLI progress', () => {
  it('on a terminal, redraws the running step in place and keeps finished ones', () => {
    const { io, err } = fakeIo(true);
    const output = new Output(io, false);
    output.progress('[1/2] a: running', false);
    output.progress('[1/2] a: succeeded', true);
    output.progress('[2/2] b: running', false);
    output.result({}, () => 'done');
    expect(err()).toBe('\r\x1b[K[1/2] a: running\r\x1b[K[1/2] a: succeeded\n\r\x1b[K[2/2] b: running\n');
  });

  it('elsewhere, one plain line per change; --json keeps stdout JSON', () => {
    const { io, out, err } = fakeIo(false);
    const output = new Output(io, true);
    output.progress('[1/2] a: running', false);
    output.result({ ok: true }, () => 'not this');
    expect(err()).toBe('[1/2] a: running\n');
    expect(JSON.parse(out())).toEqual({ ok: true });
  });
});

describe('CLI credentials', () => {
  it('flags, then the environment, then the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'skd-cli-unit-'));
    try {
      const env = { SKALEDATA_CONFIG: path.join(dir, 'c.json') };
      writeConfig(env, { api_url: 'http://file', api_key: 'skd_file' });
      expect(resolveCredentials(env, {})).toMatchObject({ apiUrl: 'http://file', apiKey: 'skd_file' });
      expect(resolveCredentials({ ...env, SKALEDATA_API_KEY: 'skd_env', SKALEDATA_API_URL: 'http://env' }, {})).toMatchObject({ apiUrl: 'http://env', apiKey: 'skd_env', source: 'SKALEDATA_API_KEY' });
      expect(resolveCredentials({ ...env, SKALEDATA_API_KEY: 'skd_env' }, { token: 't', 'api-url': 'http://flag' })).toMatchObject({ apiUrl: 'http://flag', token: 't' });
      expect(configPath({ XDG_CONFIG_HOME: '/x' })).toBe('/x/skaledata/config.json');
      expect(configPath({ HOME: '/home/u' })).toBe('/home/u/.config/skaledata/config.json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CLI config file', () => {
  const posix = process.platform !== 'win32';
  const modeOf = (file: string): number => statSync(file).mode & 0o777;
  let dir = '';
  const inTemp = (run: () => void) => () => {
    dir = mkdtempSync(path.join(tmpdir(), 'skd-cli-config-'));
    try {
      run();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it.runIf(posix)(
    'an existing folder keeps its mode (SKALEDATA_CONFIG=/tmp/x.json must not chmod /tmp); a folder it creates is 0700, the file 0600',
    inTemp(() => {
      chmodSync(dir, 0o755);
      const file = writeConfig({ SKALEDATA_CONFIG: path.join(dir, 'c.json') }, { api_url: 'http://x', api_key: 'skd_x' });
      expect(modeOf(dir)).toBe(0o755);
      expect(modeOf(file)).toBe(0o600);

      const nested = writeConfig({ SKALEDATA_CONFIG: path.join(dir, 'new', 'skaledata', 'c.json') }, { api_url: 'http://x', token: 't' });
      expect(modeOf(path.dirname(nested))).toBe(0o700);
      expect(modeOf(nested)).toBe(0o600);
      expect(modeOf(dir)).toBe(0o755);
    }),
  );

  it.runIf(posix)(
    'a file other users may read works, with one warning line naming the file, its mode and the fix',
    inTemp(() => {
      const env = { SKALEDATA_CONFIG: path.join(dir, 'c.json') };
      const file = writeConfig(env, { api_url: 'http://file', api_key: 'skd_file' });
      const warnings: string[] = [];
      expect(resolveCredentials(env, {}, (line) => warnings.push(line))).toMatchObject({ apiKey: 'skd_file' });
      expect(warnings).toEqual([]);
      chmodSync(file, 0o644);
      expect(resolveCredentials(env, {}, (line) => warnings.push(line))).toMatchObject({ apiUrl: 'http://file', apiKey: 'skd_file' });
      expect(warnings).toEqual([`warning: ${file} is accessible by other users (mode 0644); run chmod 600 ${file}`]);
      expect(readConfig(env)).toMatchObject({ api_key: 'skd_file' }); // no callback, no warning, still read
    }),
  );

  it(
    'a corrupt file does not matter when flags or variables give both the URL and the credential; it does when one is missing',
    inTemp(() => {
      const env = { SKALEDATA_CONFIG: path.join(dir, 'c.json') };
      writeFileSync(env.SKALEDATA_CONFIG, '{ not json', { mode: 0o600 });
      expect(resolveCredentials({ ...env, SKALEDATA_API_KEY: 'skd_env', SKALEDATA_API_URL: 'http://env' }, {})).toEqual({ apiUrl: 'http://env', apiKey: 'skd_env', source: 'SKALEDATA_API_KEY' });
      expect(resolveCredentials(env, { token: 't', 'api-url': 'http://flag' })).toEqual({ apiUrl: 'http://flag', token: 't', source: '--token' });
      expect(() => resolveCredentials({ ...env, SKALEDATA_API_KEY: 'skd_env' }, {})).toThrow(expect.objectContaining({ exitCode: EXIT.usage, code: 'config_invalid' }));
      expect(() => resolveCredentials(env, { 'api-key': 'skd_a', token: 't', 'api-url': 'http://flag' })).toThrow(expect.objectContaining({ exitCode: EXIT.usage, code: 'usage' }));
    }),
  );

  it.runIf(posix)(
    'the temporary file is created new: a symlink planted at its path is not followed, a stale wider file is not reused',
    inTemp(() => {
      const file = path.join(dir, 'c.json');
      const temporary = `${file}.${process.pid}.tmp`;
      const target = path.join(dir, 'elsewhere.txt');
      writeFileSync(target, 'untouched', { mode: 0o644 });
      symlinkSync(target, temporary);
      writeConfig({ SKALEDATA_CONFIG: file }, { api_url: 'http://x', api_key: 'skd_secret' });
      expect(readFileSync(target, 'utf8')).toBe('untouched');
      expect(modeOf(target)).toBe(0o644);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ api_url: 'http://x', api_key: 'skd_secret' });
      expect(modeOf(file)).toBe(0o600);
      expect(existsSync(temporary)).toBe(false);

      writeFileSync(temporary, 'stale', { mode: 0o666 });
      chmodSync(temporary, 0o666);
      writeConfig({ SKALEDATA_CONFIG: file }, { api_url: 'http://y', token: 't' });
      expect(modeOf(file)).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ api_url: 'http://y', token: 't' });
    }),
  );

  it(
    'a failed rename leaves no temporary file behind',
    inTemp(() => {
      const file = path.join(dir, 'c.json');
      mkdirSync(path.join(file, 'in-the-way'), { recursive: true }); // a folder where the file should go
      expect(() => writeConfig({ SKALEDATA_CONFIG: file }, { api_url: 'http://x', api_key: 'skd_x' })).toThrow();
      expect(readdirSync(dir)).toEqual(['c.json']);
    }),
  );
});

describe('login at a terminal', () => {
  function fakeTerminal(): { terminal: Terminal & PassThrough; modes: boolean[]; stderr: { write: (text: string) => boolean }; err: () => string } {
    const modes: boolean[] = [];
    const terminal = Object.assign(new PassThrough(), {
      isTTY: true,
      isRaw: false,
      setRawMode(raw: boolean) {
        modes.push(raw);
        terminal.isRaw = raw;
        return terminal;
      },
    });
    let err = '';
    return { terminal, modes, stderr: { write: (text: string) => ((err += text), true) }, err: () => err };
  }

  it('reads the secret in raw mode (not echoed), Backspace edits it, Enter ends it; the mode is restored and a newline printed', async () => {
    const { terminal, modes, stderr, err } = fakeTerminal();
    const secret = readHidden(terminal, stderr as never);
    terminal.write('skd_ab');
    terminal.write(Buffer.from([0x63, 0x7f, 0x63, 0xc3])); // "c", Backspace, "c", half of "é"
    terminal.write(Buffer.from([0xa9, 0x0d, 0x78])); // the other half, Enter, then nothing more is read
    await expect(secret).resolves.toBe('skd_abcé');
    expect(modes).toEqual([true, false]);
    expect(err()).toBe('\n');
  });

  it('Ctrl-C gives up (exit 130) and Ctrl-D ends the input; the mode is restored either way', async () => {
    const interrupted = fakeTerminal();
    const refused = readHidden(interrupted.terminal, interrupted.stderr as never);
    interrupted.terminal.write('skd_\u0003');
    await expect(refused).rejects.toMatchObject({ exitCode: 130, code: 'interrupted' });
    expect(interrupted.modes).toEqual([true, false]);
    expect(interrupted.err()).toBe('\n');

    const ended = fakeTerminal();
    const secret = readHidden(ended.terminal, ended.stderr as never);
    ended.terminal.write('tok\u0004');
    await expect(secret).resolves.toBe('tok');
    expect(ended.modes).toEqual([true, false]);
  });
});
