import { sql } from 'kysely';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { OTHER_COMMITS_CHECK_MS, openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { OTHER_INSTANCES_BOUND_MS } from '../../src/db/row-changes.js';
import { WATCHED_TABLES } from '../../src/db/watched-tables.js';
import { createApp } from '../helpers/apps-fixtures.js';
import { createCloud, createCluster } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';
import { tablesOf } from '../helpers/statements.js';

/**
 * Counts the selects the app runs on one table, and can run something once right after such a select
 * has read its rows (before the app sees them): a write racing a list.
 */
class TableReads implements KyselyPlugin {
  count = 0;
  afterNextRead: (() => Promise<void>) | null = null;
  readonly #reads = new WeakSet<object>();

  constructor(readonly table: string) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'SelectQueryNode' && tablesOf(args.node).includes(this.table)) this.#reads.add(args.queryId);
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#reads.has(args.queryId)) {
      this.count++;
      const hook = this.afterNextRead;
      this.afterNextRead = null;
      await hook?.();
    }
    return args.result;
  }
}

interface ClusterItem {
  id: string;
  name: string;
  status: string;
  labels: Record<string, string>;
}
interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

// Both databases keep list bodies while the listed tables are unchanged (http/response-cache.ts,
// db/row-changes.ts): SQLite by its change stamp, PostgreSQL by this process's writes and the row
// notifications of every instance. Every case builds its own account and clusters, and the cases run in a
// random order, so none leans on another's writes.
describe(`list responses are never older than the last write (${TEST_DIALECT})`, { shuffle: true }, () => {
  const clusterReads = new TableReads('clusters');
  let h: Harness;
  /** A second connection (SQLite) or pool (PostgreSQL) of its own: writes the app does not make. */
  let elsewhere: DatabaseHandle;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true, plugins: [clusterReads] });
    elsewhere = openDatabase(h.deps.config.database);
  });
  afterAll(async () => {
    await elsewhere?.close();
    await h?.close();
  });

  async function get<T>(account: Account, url: string): Promise<{ body: T; raw: string }> {
    const response = await h.inject({ method: 'GET', url, headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-store');
    return { body: response.json() as T, raw: response.body };
  }
  const clusters = async (account: Account, query = '') => (await get<Page<ClusterItem>>(account, `/clusters${query}`)).body;
  const renameElsewhere = (id: string, name: string) => elsewhere.db.updateTable('clusters').set({ name }).where('id', '=', id).execute();

  /** A new account with two running clusters, each on a cloud of its own: `first` older than `second`. */
  async function twoClusters() {
    const owner = await h.newAccount();
    const first = await createCluster(h, owner, { name: 'first', wait: true });
    const second = await createCluster(h, owner, { name: 'second', wait: true });
    expect((await clusters(owner)).data.map((cluster) => cluster.id)).toEqual([second.clusterId, first.clusterId]);
    return { owner, first: first.clusterId, second: second.clusterId, firstCloud: first.cloudId, secondCloud: second.cloudId };
  }

  it('follows a cluster from its creation through its job to running, as the job runner writes it', async () => {
    const owner = await h.newAccount();
    expect((await clusters(owner)).data).toEqual([]);
    const { clusterId } = await createCluster(h, owner, { name: 'first' });
    expect((await clusters(owner)).data.map((cluster) => [cluster.id, cluster.status])).toEqual([[clusterId, 'provisioning']]);
    // Written in the background by the job, not by a request: a list kept past that write never turns running.
    await waitFor(async () => ((await clusters(owner)).data[0]?.status === 'running' ? true : undefined), 15_000);
    const second = await createCluster(h, owner, { name: 'second', wait: true });
    expect((await clusters(owner)).data.map((cluster) => cluster.id)).toEqual([second.clusterId, clusterId]);
  });

  it('reads the rows again only after a write', async () => {
    const { owner, first } = await twoClusters();
    const warm = await get<Page<ClusterItem>>(owner, '/clusters');
    clusterReads.count = 0;
    for (let i = 0; i < 5; i++) expect((await get<Page<ClusterItem>>(owner, '/clusters')).raw).toBe(warm.raw);
    expect(clusterReads.count).toBe(0);

    const patched = await h.inject({ method: 'PATCH', url: `/clusters/${first}`, headers: owner.auth, payload: { labels: { team: 'data' } } });
    expect(patched.statusCode, patched.body).toBe(200);
    clusterReads.count = 0;
    const after = await clusters(owner);
    expect(after.data.find((cluster) => cluster.id === first)?.labels).toEqual({ team: 'data' });
    expect(clusterReads.count).toBe(1);
  });

  it('sees a commit by another connection to the database within the bound', async () => {
    const { owner, first } = await twoClusters();
    await clusters(owner);
    await renameElsewhere(first, 'renamed-elsewhere');
    // SQLite: OTHER_COMMITS_CHECK_MS; PostgreSQL: the notification's way back (OTHER_INSTANCES_BOUND_MS).
    await sleep(TEST_DIALECT === 'sqlite' ? OTHER_COMMITS_CHECK_MS + 5 : OTHER_INSTANCES_BOUND_MS);
    expect((await clusters(owner)).data.find((cluster) => cluster.id === first)?.name).toBe('renamed-elsewhere');
  });

  it.skipIf(TEST_DIALECT !== 'postgres')('announces a change to every watched table from a trigger of its own (PostgreSQL)', async () => {
    const { rows } = await sql<{ table: string }>`
      select c.relname as table from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where not t.tgisinternal and t.tgname = c.relname || '_changed'`.execute(elsewhere.db);
    expect(rows.map((row) => row.table).sort()).toEqual([...WATCHED_TABLES].sort());
  });

  it('does not keep a page past a write that lands while the page is being read', async () => {
    const { owner, first } = await twoClusters();
    // A write through the API first, so the next list reads its rows rather than using a kept page.
    const patched = await h.inject({ method: 'PATCH', url: `/clusters/${first}`, headers: owner.auth, payload: { name: 'before-race' } });
    expect(patched.statusCode, patched.body).toBe(200);
    // Through the app's own connection (the stamp moves at once): queued behind the list's read, it runs
    // as soon as the read lets go of the connection, before the page is serialized and kept.
    let racing: Promise<unknown> = Promise.resolve();
    clusterReads.afterNextRead = async () => {
      racing = h.deps.database.db.updateTable('clusters').set({ name: 'raced' }).where('id', '=', first).execute();
    };
    const during = await clusters(owner);
    await racing;
    expect(clusterReads.afterNextRead).toBeNull();
    // Read before the racing write: the old name. The next request must not be served that page again.
    expect(during.data.find((cluster) => cluster.id === first)?.name).toBe('before-race');
    expect((await clusters(owner)).data.find((cluster) => cluster.id === first)?.name).toBe('raced');
  });

  it('never shows, now or later, a row written by a transaction that rolled back', async () => {
    const { owner, first } = await twoClusters();
    const before = await get<Page<ClusterItem>>(owner, '/clusters');
    let during: Promise<{ body: Page<ClusterItem>; raw: string }> | null = null;
    await expect(
      h.deps.database.db.transaction().execute(async (trx) => {
        await trx.updateTable('clusters').set({ name: 'never-committed' }).where('id', '=', first).execute();
        // Asked for while the uncommitted row exists: its stamp is read now, its rows only once the
        // transaction has let go of the connection.
        during = get<Page<ClusterItem>>(owner, '/clusters');
        await sleep(20);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(during).not.toBeNull();
    expect((await during!).raw).toBe(before.raw);
    expect((await get<Page<ClusterItem>>(owner, '/clusters')).raw).toBe(before.raw);
  });

  it('never hands one account, filter or page the body of another', async () => {
    const { owner, first, second, firstCloud, secondCloud } = await twoClusters();
    const neighbour = await h.newAccount();
    await clusters(owner);
    expect((await clusters(neighbour)).data).toEqual([]);
    expect((await clusters(owner, '?status=deleted')).data).toEqual([]);
    expect((await clusters(owner, '?status=running')).data.map((cluster) => cluster.id)).toEqual([second, first]);
    const page1 = await clusters(owner, '?limit=1');
    expect(page1.data.map((cluster) => cluster.id)).toEqual([second]);
    expect(page1.next_cursor).not.toBeNull();
    const page2 = await clusters(owner, `?limit=1&cursor=${page1.next_cursor ?? ''}`);
    expect(page2).toMatchObject({ data: [{ id: first }], next_cursor: null });
    expect((await clusters(owner, `?cloud_id=${firstCloud}`)).data.map((cluster) => cluster.id)).toEqual([first]);
    expect((await clusters(owner, `?cloud_id=${secondCloud}`)).data.map((cluster) => cluster.id)).toEqual([second]);
    // The same query with its parameters in another order is the same page.
    expect((await clusters(owner, `?status=running&cloud_id=${firstCloud}`)).data.map((cluster) => cluster.id)).toEqual([first]);
    expect((await clusters(owner, `?cloud_id=${firstCloud}&status=running`)).data.map((cluster) => cluster.id)).toEqual([first]);
    // The same filter asked again after a write in another account still answers for its own account.
    await createCluster(h, neighbour, { name: 'neighbours' });
    expect((await clusters(owner)).data.map((cluster) => cluster.id)).toEqual([second, first]);
    expect((await clusters(neighbour)).data.map((cluster) => cluster.name)).toEqual(['neighbours']);
  });

  it('answers a bad cursor with 400 every time, and keeps serving the list', async () => {
    const { owner } = await twoClusters();
    for (let i = 0; i < 2; i++) {
      const response = await h.inject({ method: 'GET', url: '/clusters?cursor=not-a-cursor', headers: owner.auth });
      expect(response.statusCode).toBe(400);
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    expect((await clusters(owner)).data).toHaveLength(2);
  });

  it('shows clouds and apps written since the last list', async () => {
    const { owner, first, second } = await twoClusters();
    const cloudNames = async (query = '') => (await get<Page<{ name: string }>>(owner, `/clouds${query}`)).body.data.map((cloud) => cloud.name);
    const known = await cloudNames();
    await createCloud(h, owner, 'late-cloud');
    expect(await cloudNames()).toEqual(['late-cloud', ...known]);
    expect(await cloudNames('?provider=aws')).toEqual(['late-cloud', ...known]);
    expect(await cloudNames('?provider=gcp')).toEqual([]);

    const appNames = async (query = '') => (await get<Page<{ name: string }>>(owner, `/apps${query}`)).body.data.map((app) => app.name);
    expect(await appNames()).toEqual([]);
    const app = await createApp(h, owner, second);
    expect(await appNames()).toEqual([app.name]);
    const renamed = await h.inject({ method: 'PATCH', url: `/apps/${app.id}`, headers: owner.auth, payload: { name: 'renamed-app' } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(await appNames()).toEqual(['renamed-app']);
    // Each filter has pages of its own (asked in turn, with no write between them).
    expect(await appNames(`?cluster_id=${second}`)).toEqual(['renamed-app']);
    expect(await appNames(`?cluster_id=${first}`)).toEqual([]);
    expect(await appNames('?type=service')).toEqual(['renamed-app']);
    expect(await appNames('?type=airflow')).toEqual([]);
    expect(await appNames('?status=pending')).toEqual(['renamed-app']);
    expect(await appNames('?status=running')).toEqual([]);
  });
});
