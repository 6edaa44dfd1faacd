import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobLeaseRepo, type JobLeaseRepo } from '../../src/modules/jobs/job-lease-repo.js';
import { createJobRepo } from '../../src/modules/jobs/job-repo.js';
import { newId } from '../../src/lib/ids.js';
import { JOB_TYPES } from '../../src/modules/jobs/job-types.js';
import { startHarness, TEST_DIALECT, type Harness } from '../helpers/harness.js';

/**
 * The job runner's claims against a real database, with many claimers racing (SKIP LOCKED on
 * PostgreSQL, conditional UPDATEs on SQLite): each due job goes to exactly one of them, and leases are
 * judged by the database's clock.
 */
describe(`job claims (${TEST_DIALECT})`, () => {
  let h: Harness;
  let account = 0;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  /** Queued jobs of their own account (so tests do not see each other's), oldest first. */
  async function queue(count: number): Promise<string[]> {
    const accountId = `acct_claims_${++account}`;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const db = h.deps.database.db;
      const { row: job } = await createJobRepo(db).enqueue(db, {
        id: newId('job'),
        accountId,
        type: 'cluster.create',
        resourceType: 'cluster',
        resourceId: `cls_fake${account}x${i}`,
        clusterId: null,
        input: { kubernetes_version: '1.32' },
        createdBy: 'user_claims',
        steps: ['validate-cloud-credentials'],
        now: new Date().toISOString(),
      });
      ids.push(job.id);
    }
    return ids;
  }

  const claimer = (instanceId: string, leaseMs = 5_000): JobLeaseRepo =>
    createJobLeaseRepo({ database: h.deps.database, instanceId, leaseMs, knownTypes: [...JOB_TYPES] });

  const rows = (ids: string[]) => h.deps.database.db.selectFrom('jobs').selectAll().where('id', 'in', ids).orderBy('id').execute();

  /** Leaves only `ids` due: everything else queued by earlier tests is marked finished. */
  async function onlyDue(ids: string[]) {
    await h.deps.database.db.updateTable('jobs').set({ status: 'succeeded', lease_owner: null }).where('id', 'not in', ids).execute();
  }

  it('gives each of 60 queued jobs to exactly one of 8 racing claimers', async () => {
    const ids = await queue(60);
    await onlyDue(ids);
    const claimers = Array.from({ length: 8 }, (_, i) => ({ id: `instance-${i}`, repo: claimer(`instance-${i}`), got: [] as string[] }));
    await Promise.all(
      claimers.map(async (c) => {
        for (let round = 0; round < 40; round++) {
          const claimed = await c.repo.claimDue(3, [], new Date().toISOString());
          c.got.push(...claimed.map((job) => job.id));
          if (claimed.length === 0) return;
        }
      }),
    );
    const all = claimers.flatMap((c) => c.got);
    expect(all.sort()).toEqual([...ids].sort());
    const stored = await rows(ids);
    for (const job of stored) {
      expect(job.status).toBe('running');
      expect(job.attempts).toBe(1);
      expect(claimers.find((c) => c.got.includes(job.id))?.id).toBe(job.lease_owner);
    }
  });

  it('takes a running job over only once its lease has expired by the database clock, counting the attempt', async () => {
    const [id] = await queue(1);
    await onlyDue([id!]);
    const first = claimer('instance-a', 60_000);
    const second = claimer('instance-b');
    expect((await first.claimDue(1, [], new Date().toISOString())).map((job) => job.id)).toEqual([id]);
    // Leased for a minute: nobody else may take it, and renewing keeps it.
    expect(await second.claimDue(1, [], new Date().toISOString())).toEqual([]);
    expect(await first.renew(id!)).toBe(true);
    expect(await second.renew(id!)).toBe(false);

    // The lease runs out (as if instance-a died and stopped renewing): the next claimer takes it.
    await h.deps.database.db.updateTable('jobs').set({ lease_expires_at: h.deps.database.sqlNow(-1) }).where('id', '=', id!).execute();
    expect((await second.claimDue(1, [], new Date().toISOString())).map((job) => job.id)).toEqual([id]);
    const [taken] = await rows([id!]);
    expect(taken).toMatchObject({ status: 'running', lease_owner: 'instance-b', attempts: 2 });
    // The old owner is fenced off: its renewal fails, so it stops.
    expect(await first.renew(id!)).toBe(false);
    // The new lease runs from the database's now.
    const { now } = await h.deps.database.db.selectNoFrom(h.deps.database.sqlNow().as('now')).executeTakeFirstOrThrow();
    expect(taken!.lease_expires_at! > now).toBe(true);
    expect(Date.parse(taken!.lease_expires_at!) - Date.parse(now)).toBeLessThanOrEqual(5_000);
  });

  it('never claims a job the claimer says it is already running, and hands jobs back without counting an attempt', async () => {
    const ids = await queue(2);
    await onlyDue(ids);
    const repo = claimer('instance-c');
    const claimed = await repo.claimDue(2, [ids[0]!], new Date().toISOString());
    expect(claimed.map((job) => job.id)).toEqual([ids[1]]);
    await repo.handBack([ids[1]!]);
    const back = (await rows(ids)).find((job) => job.id === ids[1]);
    expect(back).toMatchObject({ status: 'running', lease_owner: null, attempts: 0 });
    // Handed back means due at once.
    expect((await claimer('instance-d').claimDue(2, [], new Date().toISOString())).map((job) => job.id).sort()).toEqual([...ids].sort());
  });
});
