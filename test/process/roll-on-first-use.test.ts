import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedTestClerk } from '../helpers/clerk.js';
import { TEST_DIALECT } from '../helpers/database.js';
import { bearer, waitFor } from '../helpers/harness.js';
import { around, now, startLoad, type RunningLoad } from '../helpers/load.js';
import { callServer, startServerPair, type ServerPair, type ServerProcess } from '../helpers/server-process.js';

/**
 * Issue 13 item 4 across instances: two real server processes on one PostgreSQL database. A key is rolled
 * with `retire_old: on_first_use`; its old secret is warm in both instances' caches under load; the new
 * secret's first use goes to A. The old secret is refused by A from the next request and by B within
 * CONTRACT §4's bound (1 s), while a control key never fails.
 */
const BOUND_MS = 1000;
const TTL_MS = 10_000;
const LOOPS_PER_INSTANCE = 6;

describe.skipIf(TEST_DIALECT !== 'postgres')(
  'roll with retire_old on_first_use across two server processes on one PostgreSQL database (PostgreSQL only: run with TEST_DB=postgres)',
  () => {
    const clerk = sharedTestClerk();
    let servers: ServerPair;
    let a: ServerProcess;
    let b: ServerProcess;
    let user: { authorization: string };

    beforeAll(async () => {
      servers = await startServerPair({ AUTH_CACHE_TTL_MS: String(TTL_MS) });
      ({ a, b } = servers);
      user = bearer(await clerk.session({}, { expiresInSeconds: 3600 }));
    }, 60_000);

    afterAll(async () => servers?.stop());

    const call = callServer;

    async function createKey(): Promise<{ id: string; key: string }> {
      const created = await call(a, 'POST', '/api-keys', user, { name: `k-${randomBytes(3).toString('hex')}` });
      expect(created.status).toBe(201);
      return created.json as unknown as { id: string; key: string };
    }

    const okCount = (load: RunningLoad, loop: string) => load.samples.filter((s) => s.loop === loop && s.status === 200).length;
    const sentAfter = (load: RunningLoad, loop: string, t: number) => load.samples.filter((s) => s.loop === loop && s.sentAt > t).length;

    it("the new secret's first use on A retires the old one on B within 1 s, under load on both; the control key never fails", async () => {
      const k = await createKey();
      const c = await createKey();
      const rolled = await call(a, 'POST', `/api-keys/${k.id}/roll`, user, { retire_old: 'on_first_use', expires_in_seconds: 3600 });
      expect(rolled.status).toBe(200);
      const newKey = String(rolled.json?.key);

      const load = startLoad(
        [['A', a] as const, ['B', b] as const].flatMap(([name, server]) => [
          ...Array.from({ length: LOOPS_PER_INSTANCE }, () => ({ name: `OLD@${name}`, url: `${server.baseUrl}/me`, headers: bearer(k.key) })),
          ...Array.from({ length: LOOPS_PER_INSTANCE / 2 }, () => ({ name: `C@${name}`, url: `${server.baseUrl}/me`, headers: bearer(c.key) })),
        ]),
        { maxRequestsPerLoop: 5000, maxMs: 30_000 },
      );
      // The old secret works (warm in both caches) while the new one is unused.
      await waitFor(async () => (['OLD@A', 'OLD@B', 'C@A', 'C@B'].every((loop) => okCount(load, loop) >= 50) ? true : undefined), 15_000, 10);

      const firstUse = await call(a, 'GET', '/me', bearer(newKey));
      const usedAt = now();
      expect(firstUse.status).toBe(200);
      expect(firstUse.json).toMatchObject({ api_key: { id: k.id } });

      await waitFor(async () => (now() - usedAt > 2 * BOUND_MS && ['OLD@A', 'OLD@B'].every((loop) => sentAfter(load, loop, usedAt) >= 100) ? true : undefined), 20_000, 10);
      const samples = await load.stop();

      // A: refused from the next request on (the retire was committed before the first use was answered).
      const onA = around(samples, 'OLD@A', usedAt);
      expect(onA.okBefore).toBeGreaterThanOrEqual(50);
      expect(onA.okAfter).toEqual([]);
      expect(onA.statusesAfter).toEqual([401]);
      // B: within the bound, then every answer a clean 401.
      const onB = around(samples, 'OLD@B', usedAt);
      expect(onB.okBefore).toBeGreaterThanOrEqual(50);
      expect(onB.lagMs).toBeLessThan(BOUND_MS);
      const late = onB.after.filter((s) => s.sentAt > usedAt + BOUND_MS);
      expect(late.length).toBeGreaterThan(0);
      expect(new Set(late.map((s) => s.status))).toEqual(new Set([401]));
      console.log(`[roll on first use] B accepted the old secret ${onB.lagMs.toFixed(1)} ms after the new one's first use was answered (bound ${BOUND_MS} ms)`);
      const controls = samples.filter((s) => s.loop.startsWith('C@'));
      expect(controls.length).toBeGreaterThan(100);
      expect(controls.filter((s) => s.status !== 200)).toEqual([]);

      // The new secret works on both; the retire is recorded once.
      expect((await call(b, 'GET', '/me', bearer(newKey))).status).toBe(200);
      const trail = await call(b, 'GET', `/events?api_key_id=${k.id}&type=api_key.old_secret_retired`, user);
      expect((trail.json?.data as unknown[]).length).toBe(1);
    }, 60_000);

    it('first uses on both instances at once: one retire, and the old secret is refused on both', async () => {
      const k = await createKey();
      const rolled = await call(a, 'POST', `/api-keys/${k.id}/roll`, user, { retire_old: 'on_first_use' });
      const newKey = String(rolled.json?.key);
      expect((await call(a, 'GET', '/me', bearer(k.key))).status).toBe(200);
      expect((await call(b, 'GET', '/me', bearer(k.key))).status).toBe(200);
      const firsts = await Promise.all([a, b, a, b].map((server) => call(server, 'GET', '/me', bearer(newKey))));
      expect(firsts.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      await waitFor(async () => ((await call(b, 'GET', '/me', bearer(k.key))).status === 401 ? true : undefined), BOUND_MS, 10);
      expect((await call(a, 'GET', '/me', bearer(k.key))).status).toBe(401);
      const trail = await call(a, 'GET', `/events?api_key_id=${k.id}&type=api_key.old_secret_retired`, user);
      expect((trail.json?.data as unknown[]).length).toBe(1);
    }, 30_000);
  },
);
