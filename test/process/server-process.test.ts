import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';
import { runCli, runCliExpectingFailure, startServer, type ServerProcess } from '../helpers/server-process.js';

const curl = promisify(execFile);

interface Json {
  [key: string]: unknown;
}

async function call(base: string, method: string, url: string, token: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, json: (await response.json()) as Json };
}

async function pollJob(base: string, token: string, jobId: string, until: (job: Json) => boolean, timeoutMs = 20_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { json } = await call(base, 'GET', `/jobs/${jobId}`, token);
    if (until(json)) return json;
    if (Date.now() > deadline) throw new Error(`job ${jobId} never reached the state: ${JSON.stringify(json)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const steps = (job: Json) => job.steps as Array<{ name: string; status: string }>;

describe(`the server as a real process (${TEST_DIALECT})`, () => {
  let scratch: ScratchDatabase;
  let env: Record<string, string>;
  let token: string;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    // No CLERK_JWT_KEY: the local development issuer, exactly as a newcomer runs it.
    env = { DATABASE_URL: scratch.url, DATA_DIR: scratch.dataDir, DEV_ISSUER: 'on', SIMULATED_STEP_MS: '250', JOB_POLL_INTERVAL_MS: '50', JOB_LEASE_MS: '1500' };
    token = (await runCli(['dev-token', '--email', 'newcomer@example.com'], env)).trim();
  });
  afterAll(async () => scratch.drop());

  it('with only DATA_DIR set, keeps its SQLite database in that folder (CONTRACT §6)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'skd-data-dir-'));
    try {
      const server = await startServer({ DATA_DIR: dataDir });
      try {
        const file = path.join(dataDir, 'skaledata.db');
        expect(server.output()).toContain(`database: SQLite ${file}`);
        expect(existsSync(file)).toBe(true);
        expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
      } finally {
        server.child.kill('SIGTERM');
        expect(await server.exited).toBe(0);
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('prints the mode and how to get a token, and serves the dev token', async () => {
    const server = await startServer(env);
    try {
      expect(server.output()).toContain('local development issuer');
      expect(server.output()).toContain('skaledata dev-token --email');
      const me = await call(server.baseUrl, 'GET', '/me', token);
      expect(me.status).toBe(200);
      expect(me.json).toMatchObject({ type: 'user', email: 'newcomer@example.com' });
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });

  it('rotate-signing-key makes a new key, retires the old one, and the server publishes both', async () => {
    const first = await runCli(['rotate-signing-key'], env);
    const second = await runCli(['rotate-signing-key'], env);
    const badDelay = await runCliExpectingFailure(['rotate-signing-key', '--activate-in', 'soon'], env);
    expect(badDelay.code).toBe(2);
    expect(badDelay.stderr.trim()).toBe('--activate-in must be whole seconds from 0 to 604800 (7 days)');
    const kid = (output: string) => /^new signing key: (\S+)$/m.exec(output)?.[1];
    expect(kid(first)).toMatch(/^sk_/);
    expect(kid(second)).toMatch(/^sk_/);
    expect(second).toContain(`retired: ${kid(first)}`);
    const server = await startServer(env);
    try {
      const jwks = (await (await fetch(`${server.baseUrl}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      expect(jwks.keys.map((key) => key.kid).filter((id) => id.startsWith('sk_'))).toEqual([kid(second), kid(first)]);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });

  it("runs the seed page's curl example verbatim except for the host", async () => {
    const server = await startServer(env);
    try {
      // From shared/seed/api-key-scopes.md, "Creating scoped keys"; <clerk-jwt> is a real session token.
      const { stdout } = await curl('curl', [
        '-s',
        '-X', 'POST', `${server.baseUrl}/api-keys`,
        '-H', `Authorization: Bearer ${token}`,
        '-H', 'Content-Type: application/json',
        '-d', `{
    "name": "ci-deploy",
    "scopes": ["apps:deploy", "clusters:read"]
  }`,
      ]);
      const created = JSON.parse(stdout) as { key: string; scopes: string[]; name: string };
      expect(created.name).toBe('ci-deploy');
      expect(created.scopes).toEqual(['apps:deploy', 'clusters:read']);
      // "The returned key can deploy images and read cluster info, but cannot create or destroy clusters."
      expect((await call(server.baseUrl, 'GET', '/clusters', created.key)).status).toBe(200);
      const create = await call(server.baseUrl, 'POST', '/clusters', created.key, { name: 'x', cloud_id: 'cld_x' });
      expect(create.status).toBe(403);
      expect(create.json.detail).toBe('API key missing required scope: clusters:write');
      const destroy = await call(server.baseUrl, 'DELETE', '/clusters/cls_0000000000000000000000000', created.key);
      expect(destroy.status).toBe(403);
      expect(destroy.json.detail).toBe('API key missing required scope: clusters:write');
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('resumes a job after the server is killed mid-job (SIGKILL) and finishes it exactly once', async () => {
    let server: ServerProcess = await startServer(env);
    const cloud = await call(server.baseUrl, 'POST', '/clouds', token, {
      name: 'restart-cloud',
      provider: 'aws',
      region: 'eu-west-1',
      credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' },
    });
    expect(cloud.status).toBe(201);
    const created = await call(server.baseUrl, 'POST', '/clusters', token, { name: 'survivor', cloud_id: cloud.json.id });
    expect(created.status).toBe(202);
    const jobId = (created.json.job as Json).id as string;
    const clusterId = (created.json.cluster as Json).id as string;
    // Kill it while the third step (create-control-plane, the longest) runs.
    await pollJob(server.baseUrl, token, jobId, (job) => steps(job)[2]?.status === 'running');
    server.child.kill('SIGKILL');
    await server.exited;

    server = await startServer(env);
    try {
      const job = await pollJob(server.baseUrl, token, jobId, (j) => ['succeeded', 'failed', 'canceled'].includes(String(j.status)));
      expect(job.status).toBe('succeeded');
      expect(job.attempts).toBe(2);
      expect(steps(job).map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
      const logs = job.logs as Array<{ message: string }>;
      expect(logs.some((line) => /resuming \(attempt 2\)/.test(line.message))).toBe(true);
      // The steps finished before the crash were not run again.
      expect(logs.filter((line) => /creating network skd-survivor/.test(line.message))).toHaveLength(1);
      const cluster = await call(server.baseUrl, 'GET', `/clusters/${clusterId}`, token);
      expect(cluster.json).toMatchObject({ status: 'running', active_job_id: null });
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });

  it('hands a running job back on SIGTERM and resumes it on the next start', async () => {
    let server = await startServer(env);
    // The account already has the cluster of the test before: the free plan allows one.
    expect((await call(server.baseUrl, 'POST', '/billing/subscription', token, { plan: 'team' })).status).toBe(200);
    const clouds = await call(server.baseUrl, 'GET', '/clouds', token);
    const cloudId = ((clouds.json.data as Json[])[0] as Json).id;
    const created = await call(server.baseUrl, 'POST', '/clusters', token, { name: 'graceful', cloud_id: cloudId });
    const jobId = (created.json.job as Json).id as string;
    await pollJob(server.baseUrl, token, jobId, (job) => steps(job)[1]?.status === 'running');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    server = await startServer(env);
    try {
      const job = await pollJob(server.baseUrl, token, jobId, (j) => j.status === 'succeeded');
      // A graceful hand-back is not counted as a failed attempt, but the log says where it resumed.
      expect(job.attempts).toBe(1);
      const logs = job.logs as Array<{ message: string }>;
      expect(logs.some((line) => /resuming \(attempt 1\) at step /.test(line.message))).toBe(true);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('refuses to start on a bad setting with one line naming the variable', async () => {
    const { code, stderr } = await runCliExpectingFailure(['serve'], { ...env, PORT: 'eighty' });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('Invalid configuration: PORT must be a whole number from 0 to 65535 (got "eighty")');
  });
});
