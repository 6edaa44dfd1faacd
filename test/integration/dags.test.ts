import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForJob } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { buildTarGz, buildZip, multipartBody, type FormPart } from '../helpers/dags-archives.js';
import { blobDir, createTestApp, dagFootprint, expectedDigest, sha256, type TestApp } from '../helpers/dags-fixtures.js';

interface BundleBody {
  id: string;
  app_id: string;
  version: number;
  digest: string;
  size_bytes: number;
  file_count: number;
  files: Array<{ path: string; size: number; sha256: string }>;
  status: string;
  job_id: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

interface Accepted {
  bundle: BundleBody;
  job: { id: string; type: string; status: string; resource_type: string; resource_id: string; cluster_id: string; steps: Array<{ name: string }> };
}

const DAG = "from airflow import DAG\n\nwith DAG('etl') as dag:\n    pass\n";
const HELPER = 'def helper():\n    return "é"\n';
const QUERY = 'select 1;\n';
const LOOSE = [
  { path: 'dags/etl.py', data: DAG },
  { path: 'dags/lib/helpers.py', data: HELPER },
  { path: 'sql/query.sql', data: QUERY },
];

function upload(h: Harness, headers: Record<string, string>, appId: string, parts: FormPart[]): Promise<LightMyRequestResponse> {
  const body = multipartBody(parts);
  return h.inject({ method: 'POST', url: `/apps/${appId}/dags`, headers: { ...headers, ...body.headers }, payload: body.payload });
}

const looseParts = (files: Array<{ path: string; data: string | Buffer }>): FormPart[] => files.map((file) => ({ filename: file.path, data: file.data }));

describe(`DAG upload, storage and sync (${TEST_DIALECT})`, () => {
  let h: Harness;
  let owner: Account;
  let app: TestApp;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    owner = await h.newAccount();
    app = await createTestApp(h, owner, { name: 'pipelines' });
  });
  afterAll(async () => h.close());

  const list = async (appId: string, account: Account = owner, query = '') => {
    const response = await h.inject({ method: 'GET', url: `/apps/${appId}/dags${query}`, headers: account.auth });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as { data: BundleBody[]; next_cursor: string | null };
  };

  const accepted = async (response: LightMyRequestResponse): Promise<Accepted> => {
    expect(response.statusCode, response.body).toBe(202);
    return response.json() as Accepted;
  };

  describe('accepted uploads', () => {
    let first: Accepted;

    it('loose .py and data files: 202 with version 1, a dag.sync job, then synced with every blob on disk', async () => {
      first = await accepted(await upload(h, owner.auth, app.appId, looseParts(LOOSE)));
      const { bundle, job } = first;
      expect(bundle).toMatchObject({
        app_id: app.appId,
        version: 1,
        digest: expectedDigest(LOOSE),
        size_bytes: LOOSE.reduce((sum, file) => sum + Buffer.byteLength(file.data), 0),
        file_count: 3,
        status: 'syncing',
        job_id: job.id,
        created_by: owner.userId,
      });
      expect(bundle.id).toMatch(/^dag_[0-9A-Za-z]{25}$/);
      expect(bundle.files).toEqual([
        { path: 'dags/etl.py', size: Buffer.byteLength(DAG), sha256: sha256(DAG) },
        { path: 'dags/lib/helpers.py', size: Buffer.byteLength(HELPER), sha256: sha256(HELPER) },
        { path: 'sql/query.sql', size: Buffer.byteLength(QUERY), sha256: sha256(QUERY) },
      ]);
      expect(job).toMatchObject({ type: 'dag.sync', status: 'queued', resource_type: 'dag_bundle', resource_id: bundle.id, cluster_id: app.clusterId });
      expect(job.steps.map((step) => step.name)).toEqual(['upload-bundle', 'sync-to-workers', 'parse-dags']);

      const done = await waitForJob(h, owner, job.id);
      expect(done.status).toBe('succeeded');
      expect(done.logs.some((line) => line.message === 'parsed 3 file(s); no import errors')).toBe(true);
      const page = await list(app.appId);
      expect(page.next_cursor).toBeNull();
      expect(page.data).toHaveLength(1);
      expect(page.data[0]).toMatchObject({ id: bundle.id, status: 'synced', files: bundle.files, digest: bundle.digest });
      for (const file of LOOSE) {
        expect(readFileSync(path.join(blobDir(h), sha256(file.data)), 'utf8')).toBe(file.data);
      }
    });

    it('a second identical upload is a new version with the same digest, sharing the stored blobs', async () => {
      const before = await dagFootprint(h);
      const second = await accepted(await upload(h, owner.auth, app.appId, looseParts([...LOOSE].reverse())));
      expect(second.bundle.version).toBe(2);
      expect(second.bundle.id).not.toBe(first.bundle.id);
      expect(second.bundle.digest).toBe(first.bundle.digest);
      expect(second.bundle.files).toEqual(first.bundle.files);
      const after = await dagFootprint(h);
      expect(after.blobs).toEqual(before.blobs);
      expect(after.bundles).toBe(before.bundles + 1);
      expect((await waitForJob(h, owner, second.job.id)).status).toBe('succeeded');
    });

    it('a .zip bundle (folders, deflated and stored entries, ./ and \\ in names normalized) is the same content', async () => {
      const zip = buildZip([
        { name: 'dags/', unixMode: 0o040755 },
        { name: './dags/etl.py', data: DAG, unixMode: 0o100644 },
        { name: 'dags\\lib\\helpers.py', data: HELPER, deflate: false },
        { name: 'sql/query.sql', data: QUERY },
      ]);
      const { bundle, job } = await accepted(await upload(h, owner.auth, app.appId, [{ filename: 'bundle.zip', data: zip }]));
      expect(bundle).toMatchObject({ version: 3, file_count: 3, digest: expectedDigest(LOOSE) });
      expect(bundle.files.map((file) => file.path)).toEqual(['dags/etl.py', 'dags/lib/helpers.py', 'sql/query.sql']);
      expect((await waitForJob(h, owner, job.id)).status).toBe('succeeded');
    });

    it('a .tar.gz bundle with a new file stores only the new blob', async () => {
      const extra = { path: 'dags/report.py', data: `# ${randomBytes(8).toString('hex')}\nprint("report")\n` };
      const before = await dagFootprint(h);
      const tgz = await buildTarGz([{ name: 'dags', type: 'directory' }, ...[...LOOSE, extra].map((file) => ({ name: file.path, data: file.data }))]);
      const { bundle, job } = await accepted(await upload(h, owner.auth, app.appId, [{ filename: 'release.tgz', data: tgz }]));
      expect(bundle).toMatchObject({ version: 4, file_count: 4, digest: expectedDigest([...LOOSE, extra]) });
      const after = await dagFootprint(h);
      expect(after.blobs).toEqual([...before.blobs, sha256(extra.data)].sort());
      expect(readFileSync(path.join(blobDir(h), sha256(extra.data)), 'utf8')).toBe(extra.data);
      expect((await waitForJob(h, owner, job.id)).status).toBe('succeeded');
      // Nothing half-written is ever left beside the blobs.
      expect(after.blobs.every((name) => /^[0-9a-f]{64}$/.test(name))).toBe(true);
    });

    it('GET lists versions newest first, page by page', async () => {
      const all = await list(app.appId);
      expect(all.data.map((bundle) => bundle.version)).toEqual([4, 3, 2, 1]);
      expect(all.data.every((bundle) => bundle.status === 'synced')).toBe(true);
      const one = await list(app.appId, owner, '?limit=3');
      expect(one.data.map((bundle) => bundle.version)).toEqual([4, 3, 2]);
      expect(one.next_cursor).not.toBeNull();
      const two = await list(app.appId, owner, `?limit=3&cursor=${one.next_cursor}`);
      expect(two.data.map((bundle) => bundle.version)).toEqual([1]);
      expect(two.next_cursor).toBeNull();
    });

    it('concurrent uploads to one app each get their own version, 1 to 5, none lost', async () => {
      const busy = await createTestApp(h, owner, { clusterId: app.clusterId });
      const responses = await Promise.all(
        Array.from({ length: 5 }, (_, i) => upload(h, owner.auth, busy.appId, looseParts([{ path: `dags/v${i}.py`, data: `v = ${i}\n` }]))),
      );
      const bodies = await Promise.all(responses.map(accepted));
      expect(bodies.map((body) => body.bundle.version).sort()).toEqual([1, 2, 3, 4, 5]);
      await Promise.all(bodies.map((body) => waitForJob(h, owner, body.job.id)));
      expect((await list(busy.appId)).data.map((bundle) => bundle.version)).toEqual([5, 4, 3, 2, 1]);
    });

    it('GET refuses a bad limit, an unknown query field and a cursor from elsewhere with 400', async () => {
      for (const query of ['?limit=0', '?limit=201', '?limit=x', '?sort=asc', '?cursor=bm9wZQ']) {
        const response = await h.inject({ method: 'GET', url: `/apps/${app.appId}/dags${query}`, headers: owner.auth });
        expect(response.statusCode, query).toBe(400);
        expect((response.json() as Problem).code).toBe('validation_failed');
      }
      // A real bundle id of another app is not a cursor for this one.
      const other = await createTestApp(h, owner, { clusterId: app.clusterId });
      const otherBundle = await accepted(await upload(h, owner.auth, other.appId, looseParts([LOOSE[0]!])));
      const cursor = Buffer.from(otherBundle.bundle.id).toString('base64url');
      const response = await h.inject({ method: 'GET', url: `/apps/${app.appId}/dags?cursor=${cursor}`, headers: owner.auth });
      expect(response.statusCode).toBe(400);
      expect((response.json() as Problem).errors).toEqual([{ path: 'query.cursor', message: 'is not a cursor this API returned for this app' }]);
      await waitForJob(h, owner, otherBundle.job.id);
    });
  });

  describe('the sync job', () => {
    it('an injected parse failure fails the job with its reason and leaves the bundle failed', async () => {
      const failing = await createTestApp(h, owner, { clusterId: app.clusterId, name: 'etl-simfail-parse-dags' });
      const { bundle, job } = await accepted(await upload(h, owner.auth, failing.appId, looseParts(LOOSE)));
      const done = await waitForJob(h, owner, job.id);
      expect(done.status).toBe('failed');
      expect(done.error).toEqual({ code: 'step_failed', message: 'Step parse-dags failed: the scheduler reported import errors in the bundle (simulated)' });
      expect(done.steps.map((step) => step.status)).toEqual(['succeeded', 'succeeded', 'failed']);
      const [listed] = (await list(failing.appId)).data;
      expect(listed).toMatchObject({ id: bundle.id, status: 'failed', job_id: job.id });
    });

    it('a sync canceled before it ran leaves the bundle failed, the job canceled', async () => {
      await h.app.jobRunner.stop();
      try {
        const { bundle, job } = await accepted(await upload(h, owner.auth, app.appId, looseParts(LOOSE)));
        const cancel = await h.inject({ method: 'POST', url: `/jobs/${job.id}/cancel`, headers: owner.auth });
        expect(cancel.statusCode, cancel.body).toBe(200);
        expect((cancel.json() as { status: string }).status).toBe('canceled');
        const listed = (await list(app.appId)).data.find((candidate) => candidate.id === bundle.id);
        expect(listed?.status).toBe('failed');
      } finally {
        await h.app.jobRunner.start();
      }
    });
  });

  describe('apps that take no DAGs', () => {
    it('a service app: 400 saying DAGs go to airflow apps only; nothing stored', async () => {
      const service = await createTestApp(h, owner, { clusterId: app.clusterId, type: 'service' });
      const before = await dagFootprint(h);
      const response = await upload(h, owner.auth, service.appId, looseParts(LOOSE));
      expect(response.statusCode).toBe(400);
      const problem = response.json() as Problem;
      expect(problem.code).toBe('validation_failed');
      expect(problem.detail).toBe(`App ${service.appId} is a service app; DAGs go to airflow apps only.`);
      expect(await dagFootprint(h)).toEqual(before);
    });

    it('an app being deleted or deleted: 409; nothing stored', async () => {
      const deleting = await createTestApp(h, owner, { clusterId: app.clusterId, status: 'deleting' });
      const deleted = await createTestApp(h, owner, { clusterId: app.clusterId, status: 'deleted', deleted: true });
      const before = await dagFootprint(h);
      for (const [target, word] of [[deleting, 'deleting'], [deleted, 'deleted']] as const) {
        const response = await upload(h, owner.auth, target.appId, looseParts(LOOSE));
        expect(response.statusCode).toBe(409);
        expect((response.json() as Problem).detail).toBe(`App ${target.appId} is ${word}; it takes no new DAGs.`);
      }
      expect(await dagFootprint(h)).toEqual(before);
    });
  });

  describe('tenancy', () => {
    it("another account's app answers 404 exactly like a missing one, and its bundles appear nowhere", async () => {
      const stranger = await h.newAccount();
      const strangerKey = await h.createKey(stranger, ['full']);
      const missing = 'app_0000000000000000000000000';
      const before = await dagFootprint(h);
      for (const headers of [stranger.auth, { authorization: `Bearer ${strangerKey.key}` }]) {
        const theirs = await upload(h, headers, app.appId, looseParts(LOOSE));
        const none = await upload(h, headers, missing, looseParts(LOOSE));
        expect(theirs.statusCode).toBe(404);
        expect(none.statusCode).toBe(404);
        expect((theirs.json() as Problem).detail).toBe(`No app with id ${app.appId}.`);
        expect((none.json() as Problem).detail).toBe(`No app with id ${missing}.`);
        const read = await h.inject({ method: 'GET', url: `/apps/${app.appId}/dags`, headers });
        expect(read.statusCode).toBe(404);
        expect((read.json() as Problem).code).toBe('not_found');
      }
      expect(await dagFootprint(h)).toEqual(before);

      const own = await createTestApp(h, stranger);
      expect((await list(own.appId, stranger)).data).toEqual([]);
      const jobs = await h.inject({ method: 'GET', url: '/jobs?type=dag.sync', headers: stranger.auth });
      expect((jobs.json() as { data: unknown[] }).data).toEqual([]);
      const ownerJobs = await h.inject({ method: 'GET', url: '/jobs?type=dag.sync&limit=200', headers: owner.auth });
      expect((ownerJobs.json() as { data: unknown[] }).data.length).toBe(before.syncJobs);
    });
  });

  describe('scopes', () => {
    it('an apps:read key may list but not upload (403, exact message); nothing stored', async () => {
      const reader = await h.createKey(owner, ['apps:read']);
      const headers = { authorization: `Bearer ${reader.key}` };
      const before = await dagFootprint(h);
      const response = await upload(h, headers, app.appId, looseParts(LOOSE));
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 'insufficient_scope', detail: 'API key missing required scope: apps:deploy', required_scope: 'apps:deploy' });
      expect(await dagFootprint(h)).toEqual(before);
      const read = await h.inject({ method: 'GET', url: `/apps/${app.appId}/dags`, headers });
      expect(read.statusCode).toBe(200);
    });

    it("the seed's DAG sync bot (apps:deploy only) uploads a bundle, and is refused the list", async () => {
      const bot = await h.createKey(owner, ['apps:deploy']);
      const headers = { authorization: `Bearer ${bot.key}` };
      const zip = buildZip(LOOSE.map((file) => ({ name: file.path, data: file.data })));
      const { bundle, job } = await accepted(await upload(h, headers, app.appId, [{ filename: 'dags.zip', data: zip }]));
      expect(bundle.created_by).toBe(bot.id);
      expect(bundle.digest).toBe(expectedDigest(LOOSE));
      expect((await waitForJob(h, owner, job.id)).status).toBe('succeeded');
      const read = await h.inject({ method: 'GET', url: `/apps/${app.appId}/dags`, headers });
      expect(read.statusCode).toBe(403);
      expect((read.json() as Problem).detail).toBe('API key missing required scope: apps:read');
    });
  });

  describe('content types', () => {
    it('JSON, text or an untyped body to the upload route answers 415, no body 400; multipart to any other route answers 415', async () => {
      const before = await dagFootprint(h);
      const url = `/apps/${app.appId}/dags`;
      const json = await h.inject({ method: 'POST', url, headers: owner.auth, payload: { files: [] } });
      expect(json.statusCode).toBe(415);
      expect((json.json() as Problem).detail).toBe('Upload DAG files as multipart/form-data, one part named "file" per file.');
      for (const type of ['text/plain', 'application/octet-stream', 'application/zip', null]) {
        const response = await h.inject({ method: 'POST', url, headers: { ...owner.auth, ...(type ? { 'content-type': type } : {}) }, payload: Buffer.from('print(1)') });
        expect(response.statusCode, String(type)).toBe(415);
      }
      const empty = await h.inject({ method: 'POST', url, headers: owner.auth });
      expect(empty.statusCode).toBe(400);
      expect((empty.json() as Problem).errors).toEqual([{ path: 'file', message: 'the upload holds no files; send .py files or one .zip/.tar.gz bundle in parts named "file"' }]);
      const body = multipartBody([{ field: 'name', data: 'x' }]);
      for (const url of ['/clusters', '/clouds', '/api-keys']) {
        const response = await h.inject({ method: 'POST', url, headers: { ...owner.auth, ...body.headers }, payload: body.payload });
        expect(response.statusCode, url).toBe(415);
        expect((response.json() as Problem).code).toBe('unsupported_media_type');
      }
      expect(await dagFootprint(h)).toEqual(before);
    });
  });
});
