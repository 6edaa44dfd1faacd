// The server under test: the real `skaledata serve` process with production settings, its own data folder
// and database, fixed secrets, and a Clerk key pair whose private half stays here to mint session tokens.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { clearInterval, setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'bin/skaledata.js');
export const CLERK_ISSUER = 'https://clerk.bench.skaledata.local';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const RSS_SAMPLE_MS = 200;
const OUTPUT_KEPT = 64 * 1024;

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A database of its own: a file in the temp folder, or a fresh `skd_bench_*` PostgreSQL database. */
async function createDatabase(kind, dir, pgAdminUrl) {
  if (kind === 'sqlite') {
    const file = path.join(dir, 'skaledata.db');
    return { kind, url: `sqlite:${file}`, file, drop: async () => undefined };
  }
  const name = `skd_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    throw new Error(`cannot create the PostgreSQL database on ${new URL(pgAdminUrl).host} (--pg-url): ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function answers(url) {
  try {
    return (await globalThis.fetch(url)).ok;
  } catch {
    return false; // not listening yet
  }
}

function readRssKb(pid, field) {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null; // the process is gone, or this is not Linux
  }
}

/**
 * Starts the server and resolves once it listens. The caller must call `stop()` (also on failure):
 * it ends the process, drops the database and removes the temp folder.
 */
export async function startServer({ db, pgAdminUrl, cpuProfileDir = null, redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379' }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skd-bench-'));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pepper = randomBytes(32);
  let database = null;
  let child = null;
  let sampler = null;
  const rss = { peakKb: 0, samples: 0, hwmKb: null };
  let output = '';

  const cleanup = async () => {
    if (sampler) clearInterval(sampler);
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await database?.drop().catch((error) => console.error(`bench: could not drop ${database.name}: ${error.message}`));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    database = await createDatabase(db, dir, pgAdminUrl);
    const port = await freePort();
    const env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      DATA_DIR: path.join(dir, 'data'),
      CLERK_JWT_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      CLERK_ISSUER,
      API_KEY_PEPPER: pepper.toString('base64'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      // Seeded clusters finish provisioning in moments, so no job runs during the measurements.
      SIMULATED_STEP_MS: '5',
      // key-invalid and key-unknown measure the invalid-credential path itself, all from 127.0.0.1.
      AUTH_FAILURE_LIMIT: 'off',
      // With PostgreSQL (the several-instance setup), rate limits are counted in Redis, under this run's own prefix.
      ...(db === 'postgres' ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `skd-bench:${randomBytes(6).toString('hex')}` } : {}),
    };
    const profile = cpuProfileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=server-${db}-${Date.now()}.cpuprofile`];
    child = spawn(process.execPath, [...profile, CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));

    sampler = setInterval(() => {
      const kb = readRssKb(child.pid, 'VmRSS');
      if (kb === null) return;
      rss.samples++;
      if (kb > rss.peakKb) rss.peakKb = kb;
    }, RSS_SAMPLE_MS);

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await answers(`http://127.0.0.1:${port}/healthz`))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited during start-up:\n${output}`);
      if (Date.now() > deadline) throw new Error(`the server did not start within ${START_TIMEOUT_MS / 1000} s:\n${output}`);
      await sleep(100);
    }

    const server = {
      baseUrl: `http://127.0.0.1:${port}`,
      pid: child.pid,
      database,
      pepper,
      privateKey,
      rss,
      output: () => output,
      alive: () => child.exitCode === null && child.signalCode === null,
      /** Ends the server (SIGTERM, then SIGKILL), drops the database, removes the folder; returns the exit code or signal. */
      async stop() {
        rss.hwmKb = readRssKb(child.pid, 'VmHWM');
        if (sampler) clearInterval(sampler);
        sampler = null;
        let status = child.exitCode ?? child.signalCode;
        if (status === null) {
          child.kill('SIGTERM');
          status = await Promise.race([exited, sleep(STOP_TIMEOUT_MS, 'timeout', { ref: false })]);
          if (status === 'timeout') child.kill('SIGKILL');
        }
        await cleanup();
        return status;
      },
    };
    return server;
  } catch (error) {
    await cleanup();
    throw error;
  }
}
