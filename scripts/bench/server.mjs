// The server under test: a deployment of one or more real `skaledata serve` processes with production
// settings, sharing their own data folder and database, fixed secrets, a Redis prefix, and a Clerk key pair
// whose private half stays here to mint session tokens.
import { onCpus } from './pinning.mjs';
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
/** The Node running the bench, on this tree (runtime.mjs prepares the tree of another --node). */
export const DEFAULT_RUNTIME = { node: process.execPath, version: process.version, root: ROOT };
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
    throw new Error(`cannot create the PostgreSQL database on ${new URL(pgAdminUrl).host} (--pg-url): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
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
 * What every instance of one deployment shares: the database, the data folder, the pepper, the encryption
 * key, the Clerk key pair and the Redis prefix. `remove()` drops the database and the folder; only the
 * deployment does that, never an instance, and only after every instance has stopped.
 */
async function createDeployment({ db, pgAdminUrl, redisUrl, extraEnv }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'skd-bench-'));
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pepper = randomBytes(32);
  let database = null;
  const remove = async () => {
    await database?.drop().catch((error) => console.error(`bench: could not drop ${database.name}: ${error.message}`));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    database = await createDatabase(db, dir, pgAdminUrl);
  } catch (error) {
    await remove();
    throw error;
  }
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    // Shared like a volume, as startServerPair does in the process tests (DAG blobs live there).
    DATA_DIR: path.join(dir, 'data'),
    CLERK_JWT_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    CLERK_ISSUER,
    API_KEY_PEPPER: pepper.toString('base64'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    // Seeded clusters finish provisioning in moments, so no job runs during the measurements.
    SIMULATED_STEP_MS: '5',
    // key-invalid and key-unknown measure the invalid-credential path itself, all from 127.0.0.1.
    AUTH_FAILURE_LIMIT: 'off',
    // With PostgreSQL (the several-instance setup), rate limits are counted in Redis, under this run's own
    // prefix, which every instance of the deployment shares: a key's limit holds across instances.
    ...(db === 'postgres' ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `skd-bench:${randomBytes(6).toString('hex')}` } : {}),
    // What sets one deployment apart (METRICS_TOKEN for key-me-metrics's).
    ...extraEnv,
  };
  return { db, database, pepper, privateKey, env, remove };
}

/**
 * Starts one `skaledata serve` process of `deployment` and resolves once it answers /healthz. The caller
 * must call `stop()`, also on failure; it ends the process only.
 */
async function startInstance(deployment, { index, cpuProfileDir, cpus, runtime }) {
  let child = null;
  let sampler = null;
  const rss = { peakKb: 0, samples: 0, hwmKb: null };
  let output = '';
  let exited = Promise.resolve(null);

  const stop = async () => {
    rss.hwmKb = child === null ? null : readRssKb(child.pid, 'VmHWM');
    if (sampler) clearInterval(sampler);
    sampler = null;
    if (child === null) return null;
    let status = child.exitCode ?? child.signalCode;
    if (status === null) {
      child.kill('SIGTERM');
      status = await Promise.race([exited, sleep(STOP_TIMEOUT_MS, 'timeout', { ref: false })]);
      if (status === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    }
    return status;
  };

  try {
    const port = await freePort();
    const profile =
      cpuProfileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=server-${deployment.db}-node${runtime.version}-${index + 1}-${Date.now()}.cpuprofile`];
    const { command, args } = onCpus(cpus, runtime.node, [...profile, path.join(runtime.root, 'bin/skaledata.js'), 'serve']);
    child = spawn(command, args, { cwd: runtime.root, env: { ...deployment.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));

    sampler = setInterval(() => {
      const kb = readRssKb(child.pid, 'VmRSS');
      if (kb === null) return;
      rss.samples++;
      if (kb > rss.peakKb) rss.peakKb = kb;
    }, RSS_SAMPLE_MS);

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await answers(`http://127.0.0.1:${port}/healthz`))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server instance ${index + 1} exited during start-up:\n${output}`);
      if (Date.now() > deadline) throw new Error(`server instance ${index + 1} did not start within ${START_TIMEOUT_MS / 1000} s:\n${output}`);
      await sleep(100);
    }
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      pid: child.pid,
      rss,
      output: () => output,
      alive: () => child.exitCode === null && child.signalCode === null,
      /** Ends the process (SIGTERM, then SIGKILL); returns its exit code or signal. */
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts a deployment of `instances` server processes on one new database and resolves once all listen.
 * The first instance starts alone (it migrates the database); the others join its database and secrets.
 * The caller must call `stop()` (also on failure): it ends every instance, then drops the database and
 * removes the folder.
 */
export async function startDeployment({ db, pgAdminUrl, cpuProfileDir = null, cpus = null, instances: count = 1, redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', env = {}, runtime = DEFAULT_RUNTIME }) {
  const deployment = await createDeployment({ db, pgAdminUrl, redisUrl, extraEnv: env });
  const instances = [];
  /** Instances first, then the database: dropping it under a live instance would fail its requests. */
  const stop = async () => {
    const statuses = [];
    for (const instance of instances) statuses.push(await instance.stop());
    await deployment.remove();
    return statuses;
  };
  try {
    for (let index = 0; index < count; index++) instances.push(await startInstance(deployment, { index, cpuProfileDir, cpus, runtime }));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    /** Where fixtures are seeded: the first instance (what one instance writes, every other must serve). */
    baseUrl: instances[0].baseUrl,
    baseUrls: instances.map((instance) => instance.baseUrl),
    pids: instances.map((instance) => instance.pid),
    instances,
    database: deployment.database,
    pepper: deployment.pepper,
    privateKey: deployment.privateKey,
    output: () => instances.map((instance) => instance.output()).join('\n'),
    alive: () => instances.every((instance) => instance.alive()),
    runtime,
    /** Ends every instance, then drops the database and removes the folder; returns each instance's exit code or signal. */
    stop,
  };
}
