import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { generateApiKey } from '../../src/auth/api-key-format.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_CHANNEL } from '../../src/modules/api-keys/api-key-store.js';
import { OTHER_INSTANCES_BOUND_MS } from '../../src/db/row-changes.js';
import { ROWS_CHANNEL } from '../../src/db/watched-tables.js';
import { sharedTestClerk } from '../helpers/clerk.js';
import { TEST_DIALECT } from '../helpers/database.js';
import { AWS_CREDENTIALS } from '../helpers/fixtures.js';
import { bearer, waitFor } from '../helpers/harness.js';
import { callServer as call, listenerBackendPid, startServerPair, type ServerPair, type ServerProcess } from '../helpers/server-process.js';

/**
 * Issue 14: the caches that make SQLite fast, on PostgreSQL with two real server processes.
 * - Kept list pages: a write through A is in B's next list within OTHER_INSTANCES_BOUND_MS (B hears A's
 *   commit on the rows channel), and a change B never heard of is not served from B's pages forever.
 * - The digest filter that refuses invented keys without a lookup: a key made on A is accepted by B on
 *   its very first request, whatever the notification's delay (the filter's "no" waits for B's feed).
 */
describe.skipIf(TEST_DIALECT !== 'postgres')(
  'list pages and the key digest filter across two server processes on one PostgreSQL database (PostgreSQL only: run with TEST_DB=postgres)',
  () => {
    const clerk = sharedTestClerk();
    let servers: ServerPair;
    let a: ServerProcess;
    let b: ServerProcess;
    let sql: pg.Client;
    let user: { authorization: string };

    beforeAll(async () => {
      servers = await startServerPair();
      ({ a, b } = servers);
      sql = new pg.Client({ connectionString: servers.scratch.url });
      await sql.connect();
      user = bearer(await clerk.session({}, { expiresInSeconds: 3600 }));
    }, 60_000);

    afterAll(async () => {
      await sql?.end();
      await servers?.stop();
    });

    const cloudNames = async (server: ServerProcess): Promise<string[]> => {
      const listed = await call(server, 'GET', '/clouds', user);
      expect(listed.status).toBe(200);
      return (listed.json as { data: Array<{ name: string }> }).data.map((cloud) => cloud.name);
    };

    async function createCloud(server: ServerProcess, name: string): Promise<string> {
      const created = await call(server, 'POST', '/clouds', user, { name, provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS });
      expect(created.status).toBe(201);
      return (created.json as { id: string }).id;
    }

    /** Polls B's list until `seen` holds; returns how long after `since` (ms). Fails after `limitMs`. */
    async function lagUntil(server: ServerProcess, since: number, seen: (names: string[]) => boolean, limitMs: number): Promise<number> {
      for (;;) {
        const names = await cloudNames(server);
        const lag = performance.now() - since;
        if (seen(names)) return lag;
        if (lag > limitMs) throw new Error(`not seen within ${limitMs} ms: ${JSON.stringify(names)}`);
      }
    }

    it(`a cloud created or deleted through A is in B's list within ${OTHER_INSTANCES_BOUND_MS} ms, each of 20 times`, async () => {
      const lags: number[] = [];
      for (let i = 0; i < 10; i++) {
        // B keeps the page first, so a stale one is there to be (wrongly) served.
        const before = await cloudNames(b);
        expect(await cloudNames(b)).toEqual(before);
        const name = `c${i}-${randomBytes(3).toString('hex')}`;
        const id = await createCloud(a, name);
        lags.push(await lagUntil(b, performance.now(), (names) => names.includes(name), 2_000));
        const deleted = await call(a, 'DELETE', `/clouds/${id}`, user);
        expect(deleted.status).toBe(204);
        lags.push(await lagUntil(b, performance.now(), (names) => !names.includes(name), 2_000));
      }
      console.log(`[issue 14] cross-instance list lag over ${lags.length} writes: max ${Math.max(...lags).toFixed(1)} ms, bound ${OTHER_INSTANCES_BOUND_MS} ms`);
      expect(Math.max(...lags)).toBeLessThanOrEqual(OTHER_INSTANCES_BOUND_MS);
    });

    it('a write through A that B was told nothing about (no trigger fired) is kept from B only until B loses its LISTEN connection', async () => {
      const id = await createCloud(a, `quiet-${randomBytes(3).toString('hex')}`);
      await lagUntil(b, performance.now(), (names) => names.some((name) => name.startsWith('quiet-')), 2_000);
      // As an operator's replication tool would: row changes with triggers off, so no notification.
      await sql.query('BEGIN');
      await sql.query(`SET LOCAL session_replication_role = replica`);
      await sql.query('UPDATE clouds SET name = $1 WHERE id = $2', ['quietly-renamed', id]);
      await sql.query('COMMIT');
      // B's page is kept (nothing told it otherwise): this is what shows the pages are kept at all.
      await new Promise((resolve) => setTimeout(resolve, OTHER_INSTANCES_BOUND_MS));
      expect(await cloudNames(b)).not.toContain('quietly-renamed');
      // Losing the rows' LISTEN connection drops every kept page: what B serves is read again.
      const rowsListener = await listenerBackendPid(sql, ROWS_CHANNEL, b);
      expect(rowsListener).toBeDefined();
      await sql.query('SELECT pg_terminate_backend($1)', [rowsListener]);
      await lagUntil(b, performance.now(), (names) => names.includes('quietly-renamed'), 5_000);
      // And B listens again: a later write through A is seen within the bound.
      await waitFor(async () => ((await listenerBackendPid(sql, ROWS_CHANNEL, b)) === undefined ? undefined : true), 10_000, 50);
      const name = `after-${randomBytes(3).toString('hex')}`;
      await createCloud(a, name);
      expect(await lagUntil(b, performance.now(), (names) => names.includes(name), 2_000)).toBeLessThanOrEqual(OTHER_INSTANCES_BOUND_MS);
    });

    it("a key made through A works on B's first request even while B hears nothing (its listener's backend stopped)", async () => {
      const invented = generateApiKey();
      expect((await call(b, 'GET', '/me', bearer(invented))).status).toBe(401);
      for (let i = 0; i < 3; i++) {
        // SIGSTOP the backend that would tell B about the new key: the notification waits in PostgreSQL's
        // queue, as it would behind a slow network. B's filter says "no", and B must not believe it
        // without hearing its feed catch up (its barrier times out: B looks the key up instead).
        const backend = await waitFor(() => listenerBackendPid(sql, API_KEY_CHANNEL, b), 5_000, 20);
        process.kill(backend, 'SIGSTOP');
        try {
          const created = await call(a, 'POST', '/api-keys', user, { name: `stopped-${i}` });
          expect(created.status).toBe(201);
          expect((await call(b, 'GET', '/me', bearer((created.json as { key: string }).key))).status, `key ${i} on B`).toBe(200);
          expect((await call(b, 'GET', '/me', bearer(generateApiKey()))).status).toBe(401);
        } finally {
          process.kill(backend, 'SIGCONT');
        }
      }
    });

    it("a key made or rolled through A works on B's very first request, 40 times; an invented key is refused on B", async () => {
      // B's filter has loaded (it answers invented keys) before the keys are made.
      const invented = generateApiKey();
      expect((await call(b, 'GET', '/me', bearer(invented))).status).toBe(401);
      for (let i = 0; i < 20; i++) {
        const created = await call(a, 'POST', '/api-keys', user, { name: `k${i}` });
        expect(created.status).toBe(201);
        const { id, key } = created.json as { id: string; key: string };
        expect((await call(b, 'GET', '/me', bearer(key))).status, `key ${i} on B`).toBe(200);
        const rolled = await call(a, 'POST', `/api-keys/${id}/roll`, user, {});
        expect(rolled.status).toBe(200);
        const fresh = (rolled.json as { key: string }).key;
        expect((await call(b, 'GET', '/me', bearer(fresh))).status, `rolled key ${i} on B`).toBe(200);
      }
    });
  },
);
