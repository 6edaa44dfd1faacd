import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY } from '../../src/db/database.js';
import { sharedTestClerk } from '../helpers/clerk.js';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';
import { callJson, sleep } from '../helpers/http-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * Several API processes on one PostgreSQL database (issue 4 item 4): jobs claimed with
 * FOR UPDATE SKIP LOCKED run exactly once, a job whose instance died is taken over after its lease,
 * and instances starting together migrate one at a time. Real processes of the build, bounded loops.
 */

const SKIP_REASON = 'PostgreSQL only: one SQLite file serves one process, so there is no second instance to share it with';

interface Job {
  id: string;
  status: string;
  attempts: number;
  steps: Array<{ name: string; status: string }>;
  logs: Array<{ at: string; message: string; step: string | null; level: string }>;
}

const FINISHED = ['succeeded', 'failed', 'canceled'];

async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Which instance ran (or resumed) a job, from its log: "started on <pid>-<random>" / "resuming … on <pid>-<random>". */
function runnersOf(job: Job): number[] {
  return job.logs.flatMap((line) => {
    const match = /^(?:started|resuming .*) on (\d+)-\w+/.exec(line.message);
    return match ? [Number(match[1])] : [];
  });
}

describe.skipIf(TEST_DIALECT !== 'postgres')(
  `several instances on one PostgreSQL database${TEST_DIALECT === 'postgres' ? '' : ` (skipped: ${SKIP_REASON})`}`,
  () => {
    const clerk = sharedTestClerk();
    // What every instance shares (README, "Run several instances"): the database, the secrets, the issuer.
    const shared = {
      API_KEY_PEPPER: randomBytes(32).toString('base64'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      CLERK_JWT_KEY: clerk.publicKeyPem,
      JOB_POLL_INTERVAL_MS: '50',
      JOB_LEASE_MS: '1500',
    };
    const dataDirs: string[] = [];
    const running: ServerProcess[] = [];
    let scratch: ScratchDatabase;

    /** One instance: its own data folder and port, everything else shared. */
    async function instance(url: string, extra: Record<string, string> = {}): Promise<ServerProcess> {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'skd-instance-'));
      dataDirs.push(dataDir);
      const server = await startServer({ ...shared, DATABASE_URL: url, DATA_DIR: dataDir, ...extra });
      running.push(server);
      return server;
    }

    async function stop(server: ServerProcess): Promise<number | string> {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM');
      return server.exited;
    }

    /** Stops every instance still running, so a failed test leaves none behind to take the next test's jobs. */
    async function stopAll(): Promise<void> {
      await Promise.all(running.splice(0).map(stop));
    }

    async function newUser(): Promise<string> {
      const userId = `user_${randomBytes(8).toString('hex')}`;
      return clerk.session({ sub: userId, email: `${userId}@example.com` }, { expiresInSeconds: 3600 });
    }

    async function createCloud(server: ServerProcess, token: string): Promise<string> {
      const cloud = await callJson(server.baseUrl, 'POST', '/clouds', token, {
        name: `shared-${randomBytes(3).toString('hex')}`,
        provider: 'aws',
        region: 'eu-west-1',
        credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' },
      });
      expect(cloud.status).toBe(201);
      // Several clusters per account: more than the free plan's one.
      expect((await callJson(server.baseUrl, 'POST', '/billing/subscription', token, { plan: 'business' })).status).toBe(200);
      return cloud.json.id as string;
    }

    async function createCluster(server: ServerProcess, token: string, cloudId: string, name: string): Promise<{ clusterId: string; jobId: string }> {
      const created = await callJson<{ cluster: { id: string }; job: { id: string } }>(server.baseUrl, 'POST', '/clusters', token, { name, cloud_id: cloudId });
      expect(created.status).toBe(202);
      return { clusterId: created.json.cluster.id, jobId: created.json.job.id };
    }

    const getJob = async (server: ServerProcess, token: string, id: string) => (await callJson<Job>(server.baseUrl, 'GET', `/jobs/${id}`, token)).json;

    beforeAll(async () => {
      scratch = await createScratchDatabase();
    });
    afterAll(async () => {
      await stopAll();
      await scratch.drop();
      for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    });

    it('starts two instances together on an empty database: they migrate one at a time, under the advisory lock', async () => {
      // Hold the migration lock ourselves first: both instances must wait for it before touching the schema.
      const holder = new pg.Client({ connectionString: scratch.url });
      await holder.connect();
      let both: Promise<ServerProcess[]> | null = null;
      try {
        await holder.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
        let started = 0;
        const starting = [instance(scratch.url), instance(scratch.url)].map(async (server) => {
          const up = await server;
          started += 1;
          return up;
        });
        both = Promise.all(starting);
        both.catch(() => undefined);
        // Both come to wait on the lock, each on a connection of its own, and stay there.
        const waitingOnLock = async () =>
          (
            await holder.query(
              "select 1 from pg_stat_activity where datname = current_database() and application_name = 'skaledata-migrate' and wait_event_type = 'Lock'",
            )
          ).rowCount;
        await waitUntil('both instances to wait for the migration lock', async () => ((await waitingOnLock()) === 2 ? true : undefined), 20_000);
        await sleep(500);
        expect(await waitingOnLock()).toBe(2);
        expect(started, `started while we held the lock: ${running.map((s) => s.output()).join('\n---\n')}`).toBe(0);
        const tables = await holder.query("select 1 from information_schema.tables where table_name = 'skaledata_migrations'");
        expect(tables.rowCount).toBe(0);
        await holder.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);

        const [a, b] = await both;
        for (const server of [a, b]) expect((await fetch(`${server!.baseUrl}/readyz`)).status).toBe(200);
        const applied = await holder.query<{ name: string }>('select name from skaledata_migrations order by name');
        expect(applied.rows[0]?.name).toBe('0001-initial');
        expect(applied.rows.length).toBeGreaterThanOrEqual(3);
        // And the lock was let go: nobody holds an advisory lock on this database once both are up.
        const held = await holder.query(
          "select 1 from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database())",
        );
        expect(held.rowCount).toBe(0);
        expect(await Promise.all([stop(a!), stop(b!)])).toEqual([0, 0]);
      } finally {
        // Ending our session lets go of the lock if a failure left it held; then stop whoever came up.
        await holder.end();
        await both?.catch(() => undefined);
        await stopAll();
      }
    }, 60_000);

    it('runs each of many jobs exactly once across two instances', async () => {
      const [a, b] = await Promise.all([instance(scratch.url, { SIMULATED_STEP_MS: '100' }), instance(scratch.url, { SIMULATED_STEP_MS: '100' })]);
      const servers = [a!, b!];
      try {
        const token = await newUser();
        const cloudId = await createCloud(a!, token);
        const created: Array<{ clusterId: string; jobId: string }> = [];
        for (let i = 0; i < 12; i++) created.push(await createCluster(servers[i % 2]!, token, cloudId, `many-${i}`));

        const jobs = await waitUntil('all 12 jobs to finish', async () => {
          const all = await Promise.all(created.map(({ jobId }, i) => getJob(servers[(i + 1) % 2]!, token, jobId)));
          return all.every((job) => FINISHED.includes(job.status)) ? all : undefined;
        }, 60_000);

        const ranOn = new Set<number>();
        for (const job of jobs) {
          expect(job.status, job.id).toBe('succeeded');
          expect(job.attempts, job.id).toBe(1);
          expect(job.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
          // Every step ran once: none of its log lines is there twice, and one instance started the job.
          const lines = job.logs.map((line) => `${line.step ?? '-'} ${line.message}`);
          expect(lines.filter((line, i) => lines.indexOf(line) !== i), job.id).toEqual([]);
          const runners = runnersOf(job);
          expect(runners, job.id).toHaveLength(1);
          ranOn.add(runners[0]!);
        }
        // Both instances took work.
        expect([...ranOn].sort()).toEqual([a!.child.pid, b!.child.pid].sort());
        const clusters = await callJson<{ data: Array<{ status: string; active_job_id: string | null }> }>(a!.baseUrl, 'GET', '/clusters?limit=50', token);
        expect(clusters.json.data).toHaveLength(12);
        expect(clusters.json.data.every((c) => c.status === 'running' && c.active_job_id === null)).toBe(true);
        expect(await Promise.all(servers.map(stop))).toEqual([0, 0]);
      } finally {
        await stopAll();
      }
    }, 90_000);

    it('has the surviving instance resume the jobs of one killed with SIGKILL, once their leases run out', async () => {
      const env = { SIMULATED_STEP_MS: '300' };
      const [a, b] = await Promise.all([instance(scratch.url, env), instance(scratch.url, env)]);
      const byPid = new Map([a!, b!].map((server) => [server.child.pid!, server]));
      try {
        const token = await newUser();
        const cloudId = await createCloud(a!, token);
        const created: Array<{ clusterId: string; jobId: string }> = [];
        for (let i = 0; i < 6; i++) created.push(await createCluster(i % 2 === 0 ? a! : b!, token, cloudId, `victim-${i}`));

        // Wait until one instance holds a job part-way through (a step done, not finished), then kill that instance.
        const { victim, doneBefore } = await waitUntil('a job part-way through', async () => {
          for (const { jobId } of created) {
            const job = await getJob(a!, token, jobId);
            const [runner] = runnersOf(job);
            if (runner !== undefined && job.status === 'running' && job.steps[1]?.status === 'succeeded' && job.steps[2]?.status === 'running') {
              return { victim: byPid.get(runner)!, doneBefore: job };
            }
          }
          return undefined;
        });
        const survivor = victim === a ? b! : a!;
        // The victim's leases as it last wrote them (it may still extend them until the kill lands).
        const leases = new Map<string, number>();
        const db = new pg.Client({ connectionString: scratch.url });
        await db.connect();
        try {
          const held = await db.query<{ id: string; lease_expires_at: string }>('select id, lease_expires_at from jobs where lease_owner like $1', [`${victim.child.pid}-%`]);
          for (const row of held.rows) leases.set(row.id, Date.parse(row.lease_expires_at));
        } finally {
          await db.end();
        }
        victim.child.kill('SIGKILL');
        await victim.exited;

        const jobs = await waitUntil('every job to finish on the survivor', async () => {
          const all = await Promise.all(created.map(({ jobId }) => getJob(survivor, token, jobId)));
          return all.every((job) => FINISHED.includes(job.status)) ? all : undefined;
        }, 60_000);

        const takenOver = jobs.filter((job) => runnersOf(job)[0] === victim.child.pid);
        expect(takenOver.map((job) => job.id)).toContain(doneBefore.id);
        for (const job of jobs) {
          expect(job.status, job.id).toBe('succeeded');
          expect(job.steps.every((step) => step.status === 'succeeded'), job.id).toBe(true);
        }
        for (const job of takenOver) {
          // Counted as a second attempt, resumed by the survivor, which logged where it picked up.
          expect(job.attempts, job.id).toBe(2);
          expect(runnersOf(job), job.id).toEqual([victim.child.pid, survivor.child.pid]);
          const resumed = job.logs.find((line) => /^resuming \(attempt 2\) at step /.test(line.message));
          expect(resumed, job.id).toBeDefined();
          // Not before the victim's lease ran out (one clock: the test, the database and both instances share a host),
          // and soon after it did.
          const lease = leases.get(job.id) ?? (job.id === doneBefore.id ? NaN : undefined); // claimed after we looked: no reading
          if (lease !== undefined) {
            const afterLease = Date.parse(resumed!.at) - lease;
            expect(afterLease, job.id).toBeGreaterThanOrEqual(0);
            expect(afterLease, job.id).toBeLessThan(10_000);
          }
        }
        // The steps finished before the kill were not run again.
        const job = jobs.find((j) => j.id === doneBefore.id)!;
        expect(job.logs.filter((line) => line.message.startsWith('creating network skd-'))).toHaveLength(1);
        expect(job.logs.filter((line) => line.message.startsWith('checking aws credentials'))).toHaveLength(1);
        // The survivor's own jobs ran once, undisturbed.
        for (const own of jobs.filter((j) => runnersOf(j)[0] === survivor.child.pid)) expect(own.attempts, own.id).toBe(1);
        // No cluster is left marked busy.
        const clusters = await callJson<{ data: Array<{ status: string; active_job_id: string | null }> }>(survivor.baseUrl, 'GET', '/clusters?limit=50', token);
        expect(clusters.json.data).toHaveLength(6);
        expect(clusters.json.data.filter((c) => c.status !== 'running' || c.active_job_id !== null)).toEqual([]);
        expect(await stop(survivor)).toBe(0);
      } finally {
        await stopAll();
      }
    }, 90_000);
  },
);
