import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { AWS_CREDENTIALS, createCloud, createCluster, waitForJob } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';

/**
 * Bad input (security plan T7/T9/T11/T13, CONTRACT §3): every malformed, oversized, unknown or
 * out-of-bounds input gets a clear 4xx application/problem+json, never a 500 or a hang, and nothing
 * stored changes.
 */

type Method = NonNullable<InjectOptions['method']>;


const JSON_TYPE = { 'content-type': 'application/json' };

/** Things that must never reach a client: stack frames, file paths, SQL, database names. */
const LEAKS: RegExp[] = [/^\s+at /m, /\bat \S+ \(/, /node_modules/, /SELECT/, /sqlite/i, /\/work\//, /\.[cm]?[jt]s:\d+/];

function expectSecurityHeaders(response: LightMyRequestResponse): void {
  expect(response.headers['cache-control']).toBe('no-store');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['x-powered-by']).toBeUndefined();
}

/** The one problem+json shape (CONTRACT §3), with no leak, for exactly this status and code. */
function expectProblem(response: LightMyRequestResponse, status: number, code: string): Problem {
  expect(response.statusCode, response.body.slice(0, 500)).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body).toMatchObject({ type: `https://docs.skaledata.com/errors/${code}`, status, code });
  expect(typeof body.title).toBe('string');
  expect(body.title.length).toBeGreaterThan(0);
  expect(typeof body.detail).toBe('string');
  expect(body.detail.length).toBeGreaterThan(0);
  expect(body.request_id).toMatch(/^req_[0-9A-Za-z]+$/);
  for (const leak of LEAKS) expect(response.body, `response leaks ${leak}`).not.toMatch(leak);
  expectSecurityHeaders(response);
  return body;
}

/** 400 validation_failed whose errors[] name `path` (exactly, or by its last segment with `endsWith`). */
function expectFieldError(response: LightMyRequestResponse, path: string | RegExp): Problem {
  const body = expectProblem(response, 400, 'validation_failed');
  expect(Array.isArray(body.errors)).toBe(true);
  const paths = (body.errors ?? []).map((error) => error.path);
  if (typeof path === 'string') expect(paths, body.detail).toContain(path);
  else expect(paths.some((p) => path.test(p)), `${JSON.stringify(paths)} should match ${path}`).toBe(true);
  for (const error of body.errors ?? []) expect(error.message.length).toBeGreaterThan(0);
  return body;
}

const polluted = () => ({}) as Record<string, unknown>;

/** One request with a bad body; url and payload are read when the test runs (the fixtures exist by then). */
interface BodyCase {
  name: string;
  method: Method;
  url: () => string;
  payload: () => unknown;
  path: string;
}

describe(`bad input (${TEST_DIALECT})`, () => {
  let h: Harness;
  let acct: Account;
  let key: { id: string; key: string };
  let cloudId: string;
  let clusterId: string;
  let oldClusterId: string;
  let poolId: string;
  let finishedJobId: string;

  const db = () => h.deps.database.db;

  async function count(table: 'clouds' | 'clusters' | 'node_pools' | 'jobs' | 'job_steps' | 'job_logs' | 'api_keys'): Promise<number> {
    const row = await db()
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Everything stored that a request could change (last_used_at aside: it records use, not change). */
  async function snapshot() {
    return {
      clouds: await db().selectFrom('clouds').selectAll().orderBy('id').execute(),
      clusters: await db().selectFrom('clusters').selectAll().orderBy('id').execute(),
      nodePools: await db().selectFrom('node_pools').selectAll().orderBy('id').execute(),
      apiKeys: (await db().selectFrom('api_keys').selectAll().orderBy('id').execute()).map(({ last_used_at: _used, ...row }) => row),
      jobs: await db().selectFrom('jobs').select(['id', 'status', 'updated_at', 'cancel_requested_at']).orderBy('id').execute(),
      jobSteps: await count('job_steps'),
      jobLogs: await count('job_logs'),
    };
  }

  async function expectUnchanged(action: () => Promise<void>): Promise<void> {
    const before = await snapshot();
    await action();
    expect(await snapshot()).toEqual(before);
  }

  const send = (method: Method, url: string, options: { payload?: unknown; headers?: Record<string, string> } = {}) =>
    h.inject({
      method,
      url,
      headers: { ...acct.auth, ...options.headers },
      ...(options.payload !== undefined ? { payload: options.payload as InjectOptions['payload'] } : {}),
    });

  const validCloud = (extra: Record<string, unknown> = {}) => ({
    name: `cloud-${Math.random().toString(36).slice(2, 8)}`,
    provider: 'aws',
    region: 'us-east-1',
    credentials: AWS_CREDENTIALS,
    ...extra,
  });

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    acct = await h.newAccount();
    key = await h.createKey(acct);
    cloudId = await createCloud(h, acct, 'main');
    const prod = await createCluster(h, acct, { cloudId, name: 'prod', wait: true });
    clusterId = prod.clusterId;
    finishedJobId = prod.jobId;
    const pool = await send('POST', `/clusters/${clusterId}/node-pools`, {
      payload: { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 2 },
    });
    expect(pool.statusCode, pool.body).toBe(202);
    const accepted = pool.json() as { node_pool: { id: string }; job: { id: string } };
    poolId = accepted.node_pool.id;
    expect((await waitForJob(h, acct, accepted.job.id)).status).toBe('succeeded');
    const old = await send('POST', '/clusters', { payload: { name: 'old', cloud_id: cloudId, kubernetes_version: '1.30' } });
    expect(old.statusCode, old.body).toBe(202);
    const oldAccepted = old.json() as { cluster: { id: string }; job: { id: string } };
    oldClusterId = oldAccepted.cluster.id;
    expect((await waitForJob(h, acct, oldAccepted.job.id)).status).toBe('succeeded');
  }, 60_000);

  afterAll(async () => h?.close());

  describe('request bodies', () => {
    it('malformed JSON answers 400 validation_failed naming the body', async () => {
      await expectUnchanged(async () => {
        for (const payload of ['{bad', '{"name": "x",}', '{"name": "x"', "{'name': 'x'}", 'nul', '\u0000']) {
          expectFieldError(await send('POST', '/clouds', { payload, headers: JSON_TYPE }), 'body');
        }
      });
    });

    it('a JSON array, string, number or null instead of an object answers 400 validation_failed at path body', async () => {
      await expectUnchanged(async () => {
        for (const payload of ['[1,2]', '[]', '"a string"', '42', 'null', 'true']) {
          for (const [method, url] of [
            ['POST', '/clouds'],
            ['POST', '/clusters'],
            ['PATCH', `/clusters/${clusterId}`],
            ['POST', '/api-keys'],
          ] as const) {
            expectFieldError(await send(method, url, { payload, headers: JSON_TYPE }), 'body');
          }
        }
      });
    });

    it('an empty body sent as application/json answers 400 validation_failed at path body', async () => {
      await expectUnchanged(async () => {
        expectFieldError(await send('POST', '/clouds', { payload: '', headers: JSON_TYPE }), 'body');
        expectFieldError(await send('PATCH', `/clouds/${cloudId}`, { payload: '', headers: JSON_TYPE }), 'body');
      });
    });

    it('text/plain, form-urlencoded, multipart, XML and a missing content type answer 415 unsupported_media_type', async () => {
      const json = JSON.stringify(validCloud());
      const cases: Array<{ type: string | null; payload: string }> = [
        { type: 'text/plain', payload: json },
        { type: 'text/plain; charset=utf-8', payload: json },
        { type: 'application/x-www-form-urlencoded', payload: 'name=x&provider=aws&region=us-east-1' },
        { type: 'multipart/form-data; boundary=b', payload: '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n' },
        { type: 'application/xml', payload: '<cloud><name>x</name></cloud>' },
        { type: null, payload: json },
      ];
      await expectUnchanged(async () => {
        for (const { type, payload } of cases) {
          const response = await h.inject({
            method: 'POST',
            url: '/clouds',
            headers: { ...acct.auth, ...(type ? { 'content-type': type } : {}) },
            payload: Buffer.from(payload),
          });
          expectProblem(response, 415, 'unsupported_media_type');
        }
      });
    });

    it('a body of 64 KiB + 1 answers 413 payload_too_large; exactly 64 KiB is parsed and validated', async () => {
      // A valid cloud whose only fault is its name, padded to an exact byte size.
      const sized = (bytes: number) => {
        const shell = JSON.stringify(validCloud({ name: '' }));
        return JSON.stringify(validCloud({ name: 'a'.repeat(bytes - shell.length) }));
      };
      await expectUnchanged(async () => {
        const over = sized(64 * 1024 + 1);
        expect(Buffer.byteLength(over)).toBe(65_537);
        expectProblem(await send('POST', '/clouds', { payload: over, headers: JSON_TYPE }), 413, 'payload_too_large');
        expectProblem(await send('POST', '/api-keys', { payload: over, headers: JSON_TYPE }), 413, 'payload_too_large');
        const exact = sized(64 * 1024);
        expect(Buffer.byteLength(exact)).toBe(65_536);
        expectFieldError(await send('POST', '/clouds', { payload: exact, headers: JSON_TYPE }), 'name');
      });
    });

    it('10,000 levels of nesting answer 400 within a second', async () => {
      const arrays = '['.repeat(10_000) + ']'.repeat(10_000);
      const objects = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
      const inCredentials = `{"name":"deep","provider":"aws","region":"us-east-1","credentials":{"access_key_id":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`;
      await expectUnchanged(async () => {
        for (const [payload, path] of [
          [arrays, 'body'],
          [objects, /^(a|name|body)$/],
          [inCredentials, /^credentials/],
        ] as const) {
          const started = Date.now();
          const response = await send('POST', '/clouds', { payload, headers: JSON_TYPE });
          expect(Date.now() - started).toBeLessThan(5000);
          expectFieldError(response, path);
        }
      });
    });

    it('a 1e6-element array answers 413 payload_too_large within a second', async () => {
      const payload = `[${new Array<string>(1_000_000).fill('0').join(',')}]`;
      await expectUnchanged(async () => {
        const started = Date.now();
        const response = await send('POST', '/clouds', { payload, headers: JSON_TYPE });
        expect(Date.now() - started).toBeLessThan(5000);
        expectProblem(response, 413, 'payload_too_large');
      });
    });
  });

  describe('unknown fields and prototype keys', () => {
    const unknownFields: BodyCase[] = [
      { name: 'POST /clouds with account_id', method: 'POST', url: () => '/clouds', payload: () => validCloud({ account_id: 'user_other' }), path: 'account_id' },
      { name: 'POST /clouds with id', method: 'POST', url: () => '/clouds', payload: () => validCloud({ id: 'cld_mine' }), path: 'id' },
      { name: 'POST /clouds with credentials.extra', method: 'POST', url: () => '/clouds', payload: () => validCloud({ credentials: { ...AWS_CREDENTIALS, extra: 'x' } }), path: 'credentials.extra' },
      { name: 'PATCH /clouds with provider', method: 'PATCH', url: () => `/clouds/${cloudId}`, payload: () => ({ provider: 'gcp' }), path: 'provider' },
      { name: 'PATCH /clouds with deleted_at', method: 'PATCH', url: () => `/clouds/${cloudId}`, payload: () => ({ name: 'renamed', deleted_at: null }), path: 'deleted_at' },
      { name: 'POST /clusters with status', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'sneaky', cloud_id: cloudId, status: 'running' }), path: 'status' },
      { name: 'PATCH /clusters with status', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({ status: 'deleted' }), path: 'status' },
      { name: 'PATCH /clusters with account_id', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({ name: 'renamed', account_id: 'user_other' }), path: 'account_id' },
      { name: 'PATCH /clusters with kubernetes_version', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({ kubernetes_version: '1.33' }), path: 'kubernetes_version' },
      { name: 'POST /clusters/{id}/upgrade with force', method: 'POST', url: () => `/clusters/${clusterId}/upgrade`, payload: () => ({ kubernetes_version: '1.33', force: true }), path: 'force' },
      {
        name: 'POST node-pools with current_size',
        method: 'POST',
        url: () => `/clusters/${clusterId}/node-pools`,
        payload: () => ({ name: 'extra', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 2, current_size: 3 }),
        path: 'current_size',
      },
      { name: 'PATCH node-pool with status', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({ desired_size: 3, status: 'running' }), path: 'status' },
      { name: 'POST /api-keys with key_hash', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', key_hash: 'deadbeef' }), path: 'key_hash' },
      { name: 'POST /api-keys with account_id', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', account_id: 'org_other' }), path: 'account_id' },
      { name: 'POST /api-keys/{id}/roll with key', method: 'POST', url: () => `/api-keys/${key.id}/roll`, payload: () => ({ key: 'skd_x' }), path: 'key' },
      { name: 'POST /clouds with constructor', method: 'POST', url: () => '/clouds', payload: () => validCloud({ constructor: 'x' }), path: 'constructor' },
      { name: 'POST /clouds with toString', method: 'POST', url: () => '/clouds', payload: () => validCloud({ toString: 'x' }), path: 'toString' },
      { name: 'POST /clusters with hasOwnProperty', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'own', cloud_id: cloudId, hasOwnProperty: 'x' }), path: 'hasOwnProperty' },
    ];

    it.each(unknownFields)('$name: 400 validation_failed, errors[] names the field as "is not a known field", nothing written', async (c) => {
      await expectUnchanged(async () => {
        const body = expectFieldError(await send(c.method, c.url(), { payload: c.payload() }), c.path);
        expect(body.errors?.find((error) => error.path === c.path)?.message).toBe('is not a known field');
      });
    });

    it('__proto__ and constructor.prototype keys are refused with 400 and do not pollute Object.prototype', async () => {
      const creds = JSON.stringify(AWS_CREDENTIALS);
      const cases: Array<{ method: Method; url: string; payload: string }> = [
        { method: 'POST', url: '/clouds', payload: `{"name":"proto","provider":"aws","region":"us-east-1","credentials":${creds},"__proto__":{"polluted":"yes"}}` },
        { method: 'POST', url: '/clouds', payload: `{"name":"proto","provider":"aws","region":"us-east-1","credentials":${creds},"constructor":{"prototype":{"polluted":"yes"}}}` },
        { method: 'POST', url: '/clouds', payload: `{"name":"proto","provider":"aws","region":"us-east-1","credentials":{"__proto__":{"polluted":"yes"},"access_key_id":"AKIAIOSFODNN7EXAMPLE"}}` },
        { method: 'PATCH', url: `/clusters/${clusterId}`, payload: '{"labels":{"__proto__":{"polluted":"yes"}}}' },
        { method: 'PATCH', url: `/clusters/${clusterId}`, payload: '{"labels":{"constructor":{"prototype":{"polluted":"yes"}}}}' },
        { method: 'POST', url: '/api-keys', payload: '{"name":"proto","__proto__":{"polluted":"yes","scopes":["full"]}}' },
        { method: 'PATCH', url: `/clusters/${clusterId}/node-pools/${poolId}`, payload: '{"__proto__":{"desired_size":3}}' },
      ];
      await expectUnchanged(async () => {
        for (const c of cases) {
          expectProblem(await send(c.method, c.url, { payload: c.payload, headers: JSON_TYPE }), 400, 'validation_failed');
          expect(polluted().polluted).toBeUndefined();
          expect(Object.prototype).not.toHaveProperty('polluted');
        }
      });
      const cluster = (await send('GET', `/clusters/${clusterId}`)).json() as { labels: Record<string, string> };
      expect(cluster.labels).toEqual({});
    });
  });

  describe('field bounds', () => {
    const label = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key-${i}`, 'v']));
    const gcp = { service_account_key: 'not json at all' };
    const pool = (sizes: Record<string, unknown>) => ({ name: 'bounded', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 2, ...sizes });

    const bounds: BodyCase[] = [
      // clouds
      { name: 'cloud name of 41 characters', method: 'POST', url: () => '/clouds', payload: () => validCloud({ name: 'a'.repeat(41) }), path: 'name' },
      { name: 'cloud name with uppercase', method: 'POST', url: () => '/clouds', payload: () => validCloud({ name: 'Prod' }), path: 'name' },
      { name: 'cloud name starting with a dash', method: 'POST', url: () => '/clouds', payload: () => validCloud({ name: '-prod' }), path: 'name' },
      { name: 'cloud name ending with a dash', method: 'POST', url: () => '/clouds', payload: () => validCloud({ name: 'prod-' }), path: 'name' },
      { name: 'cloud name with an underscore', method: 'POST', url: () => '/clouds', payload: () => validCloud({ name: 'my_cloud' }), path: 'name' },
      { name: 'empty cloud name', method: 'POST', url: () => '/clouds', payload: () => validCloud({ name: '' }), path: 'name' },
      { name: 'cloud name as a number', method: 'POST', url: () => '/clouds', payload: () => validCloud({ name: 42 }), path: 'name' },
      { name: 'missing cloud name', method: 'POST', url: () => '/clouds', payload: () => ({ provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS }), path: 'name' },
      { name: 'provider not in the enum', method: 'POST', url: () => '/clouds', payload: () => validCloud({ provider: 'digitalocean' }), path: 'provider' },
      { name: 'provider in uppercase', method: 'POST', url: () => '/clouds', payload: () => validCloud({ provider: 'AWS' }), path: 'provider' },
      { name: 'a GCP region for AWS', method: 'POST', url: () => '/clouds', payload: () => validCloud({ region: 'europe-west1' }), path: 'region' },
      { name: 'an AWS region for Azure', method: 'POST', url: () => '/clouds', payload: () => validCloud({ provider: 'azure', region: 'us-east-1' }), path: 'region' },
      { name: 'a one-character region', method: 'POST', url: () => '/clouds', payload: () => validCloud({ region: 'x' }), path: 'region' },
      { name: 'aws access_key_id malformed', method: 'POST', url: () => '/clouds', payload: () => validCloud({ credentials: { ...AWS_CREDENTIALS, access_key_id: 'AKIA123' } }), path: 'credentials.access_key_id' },
      { name: 'aws secret_access_key missing', method: 'POST', url: () => '/clouds', payload: () => validCloud({ credentials: { access_key_id: AWS_CREDENTIALS.access_key_id } }), path: 'credentials.secret_access_key' },
      { name: 'aws credentials empty', method: 'POST', url: () => '/clouds', payload: () => validCloud({ credentials: {} }), path: 'credentials.access_key_id' },
      { name: 'credentials as a string', method: 'POST', url: () => '/clouds', payload: () => validCloud({ credentials: 'AKIAIOSFODNN7EXAMPLE' }), path: 'credentials' },
      { name: 'credentials with 9 fields', method: 'POST', url: () => '/clouds', payload: () => validCloud({ credentials: label(9) }), path: 'credentials' },
      {
        name: 'azure tenant_id not a UUID',
        method: 'POST',
        url: () => '/clouds',
        payload: () => validCloud({
          provider: 'azure',
          region: 'westeurope',
          credentials: {
            tenant_id: 'not-a-uuid',
            client_id: '6f1c2b4e-1d2a-4c3b-9e8f-0a1b2c3d4e5f',
            client_secret: 'a-secret-value',
            subscription_id: '7a2d3c5f-2e3b-4d4c-8f9a-1b2c3d4e5f60',
          },
        }),
        path: 'credentials.tenant_id',
      },
      { name: 'azure credentials missing', method: 'POST', url: () => '/clouds', payload: () => validCloud({ provider: 'azure', region: 'westeurope', credentials: {} }), path: 'credentials.subscription_id' },
      { name: 'gcp service_account_key not JSON', method: 'POST', url: () => '/clouds', payload: () => validCloud({ provider: 'gcp', region: 'europe-west1', credentials: gcp }), path: 'credentials.service_account_key' },
      {
        name: 'gcp service_account_key of the wrong type',
        method: 'POST',
        url: () => '/clouds',
        payload: () => validCloud({ provider: 'gcp', region: 'europe-west1', credentials: { service_account_key: { type: 'authorized_user' } } }),
        path: 'credentials.service_account_key.type',
      },
      { name: 'PATCH cloud with an empty body', method: 'PATCH', url: () => `/clouds/${cloudId}`, payload: () => ({}), path: 'body' },
      { name: 'PATCH cloud name with uppercase', method: 'PATCH', url: () => `/clouds/${cloudId}`, payload: () => ({ name: 'Main' }), path: 'name' },
      { name: 'PATCH cloud region invalid for aws', method: 'PATCH', url: () => `/clouds/${cloudId}`, payload: () => ({ region: 'westeurope' }), path: 'region' },
      { name: 'PATCH cloud credentials malformed', method: 'PATCH', url: () => `/clouds/${cloudId}`, payload: () => ({ credentials: { access_key_id: 'nope' } }), path: 'credentials.access_key_id' },
      // clusters
      { name: 'cluster name of 41 characters', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'c'.repeat(41), cloud_id: cloudId }), path: 'name' },
      { name: 'cluster name with uppercase', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'Prod-2', cloud_id: cloudId }), path: 'name' },
      { name: 'cluster cloud_id of 65 characters', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'long-ref', cloud_id: 'c'.repeat(65) }), path: 'cloud_id' },
      { name: 'cluster without cloud_id', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'no-cloud' }), path: 'cloud_id' },
      { name: 'kubernetes_version 1.28 (not offered)', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'v128', cloud_id: cloudId, kubernetes_version: '1.28' }), path: 'kubernetes_version' },
      { name: 'kubernetes_version 1.34 (not offered)', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'v134', cloud_id: cloudId, kubernetes_version: '1.34' }), path: 'kubernetes_version' },
      { name: 'kubernetes_version as a number', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'vnum', cloud_id: cloudId, kubernetes_version: 1.32 }), path: 'kubernetes_version' },
      { name: 'cluster region invalid for the cloud provider', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'wrong-region', cloud_id: cloudId, region: 'westeurope' }), path: 'region' },
      { name: 'cluster labels with 21 entries', method: 'POST', url: () => '/clusters', payload: () => ({ name: 'many-labels', cloud_id: cloudId, labels: label(21) }), path: 'labels' },
      { name: 'PATCH cluster labels with 21 entries', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({ labels: label(21) }), path: 'labels' },
      { name: 'PATCH cluster label value of 64 characters', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({ labels: { env: 'v'.repeat(64) } }), path: 'labels.env' },
      { name: 'PATCH cluster label value as a number', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({ labels: { env: 1 } }), path: 'labels.env' },
      { name: 'PATCH cluster auto_upgrade as a string', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({ auto_upgrade: 'yes' }), path: 'auto_upgrade' },
      { name: 'PATCH cluster with an empty body', method: 'PATCH', url: () => `/clusters/${clusterId}`, payload: () => ({}), path: 'body' },
      // upgrades (the cluster runs 1.32; "old" runs 1.30)
      { name: 'upgrade to the same version', method: 'POST', url: () => `/clusters/${clusterId}/upgrade`, payload: () => ({ kubernetes_version: '1.32' }), path: 'kubernetes_version' },
      { name: 'upgrade to an older version', method: 'POST', url: () => `/clusters/${clusterId}/upgrade`, payload: () => ({ kubernetes_version: '1.31' }), path: 'kubernetes_version' },
      { name: 'upgrade skipping a minor version (1.30 → 1.32)', method: 'POST', url: () => `/clusters/${oldClusterId}/upgrade`, payload: () => ({ kubernetes_version: '1.32' }), path: 'kubernetes_version' },
      { name: 'upgrade to a version not offered', method: 'POST', url: () => `/clusters/${clusterId}/upgrade`, payload: () => ({ kubernetes_version: '1.99' }), path: 'kubernetes_version' },
      { name: 'upgrade without a version', method: 'POST', url: () => `/clusters/${clusterId}/upgrade`, payload: () => ({}), path: 'kubernetes_version' },
      // node pools
      { name: 'pool min_size > max_size', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ min_size: 3, max_size: 2, desired_size: 2 }), path: 'min_size' },
      { name: 'pool desired_size above max_size', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ desired_size: 5 }), path: 'desired_size' },
      { name: 'pool desired_size below min_size', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ min_size: 2, desired_size: 1 }), path: 'desired_size' },
      { name: 'pool negative min_size', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ min_size: -1 }), path: 'min_size' },
      { name: 'pool max_size of 101', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ max_size: 101 }), path: 'max_size' },
      { name: 'pool max_size of 0', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ min_size: 0, max_size: 0, desired_size: 0 }), path: 'max_size' },
      { name: 'pool desired_size of 1.5', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ desired_size: 1.5 }), path: 'desired_size' },
      { name: 'pool desired_size as a string', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ desired_size: '2' }), path: 'desired_size' },
      { name: 'pool min_size missing', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => ({ name: 'p', instance_type: 'm6i.large', max_size: 3, desired_size: 2 }), path: 'min_size' },
      { name: 'pool name with uppercase', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ name: 'Workers' }), path: 'name' },
      { name: 'pool instance_type with a space', method: 'POST', url: () => `/clusters/${clusterId}/node-pools`, payload: () => pool({ instance_type: 'm6i large' }), path: 'instance_type' },
      { name: 'resize desired_size above the current max_size', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({ desired_size: 10 }), path: 'desired_size' },
      { name: 'resize min_size above the current max_size', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({ min_size: 4 }), path: 'min_size' },
      { name: 'resize max_size of 0', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({ max_size: 0 }), path: 'max_size' },
      { name: 'resize negative desired_size', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({ desired_size: -1 }), path: 'desired_size' },
      { name: 'resize max_size of 101', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({ max_size: 101 }), path: 'max_size' },
      { name: 'resize desired_size of 2.5', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({ desired_size: 2.5 }), path: 'desired_size' },
      { name: 'resize with an empty body', method: 'PATCH', url: () => `/clusters/${clusterId}/node-pools/${poolId}`, payload: () => ({}), path: 'body' },
      // API keys
      { name: 'API key name empty', method: 'POST', url: () => '/api-keys', payload: () => ({ name: '' }), path: 'name' },
      { name: 'API key name blank', method: 'POST', url: () => '/api-keys', payload: () => ({ name: '   ' }), path: 'name' },
      { name: 'API key name of 101 characters', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k'.repeat(101) }), path: 'name' },
      { name: 'API key scope unknown', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', scopes: ['root'] }), path: 'scopes.0' },
      { name: 'API key scopes empty', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', scopes: [] }), path: 'scopes' },
      { name: 'API key scopes as a string', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', scopes: 'full' }), path: 'scopes' },
      { name: 'API key scope not a string', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', scopes: [1] }), path: 'scopes.0' },
      { name: 'API key expires_at in the past', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', expires_at: '2000-01-01T00:00:00Z' }), path: 'expires_at' },
      { name: 'API key expires_at not a date', method: 'POST', url: () => '/api-keys', payload: () => ({ name: 'k', expires_at: 'tomorrow' }), path: 'expires_at' },
      { name: 'roll grace of -1 seconds', method: 'POST', url: () => `/api-keys/${key.id}/roll`, payload: () => ({ expires_in_seconds: -1 }), path: 'expires_in_seconds' },
      { name: 'roll grace over 7 days', method: 'POST', url: () => `/api-keys/${key.id}/roll`, payload: () => ({ expires_in_seconds: 7 * 24 * 3600 + 1 }), path: 'expires_in_seconds' },
      { name: 'roll grace as a string', method: 'POST', url: () => `/api-keys/${key.id}/roll`, payload: () => ({ expires_in_seconds: '60' }), path: 'expires_in_seconds' },
    ];

    it.each(bounds)('$name: 400 validation_failed with errors[].path naming the field, nothing written', async (c) => {
      await expectUnchanged(async () => {
        const response = await send(c.method, c.url(), { payload: c.payload() });
        expect(response.statusCode, response.body).toBe(400);
        expectFieldError(response, c.path);
      });
    });

    it('label keys that are not label names (uppercase, objects as values) are refused with 400 at labels.<key>', async () => {
      await expectUnchanged(async () => {
        expectFieldError(await send('PATCH', `/clusters/${oldClusterId}`, { payload: { labels: { Team: 'data' } } }), /^labels(\.Team)?$/);
        expectFieldError(await send('PATCH', `/clusters/${oldClusterId}`, { payload: { labels: { 'Not A Label': { nested: true } } } }), /^labels(\.Not A Label)?$/);
        expectFieldError(await send('POST', '/clusters', { payload: { name: 'bad-labels', cloud_id: cloudId, labels: { 'a b': 'x' } } }), /^labels(\.a b)?$/);
      });
    });

    it('the skipped-minor refusal says which version comes next', async () => {
      const body = expectFieldError(await send('POST', `/clusters/${oldClusterId}/upgrade`, { payload: { kubernetes_version: '1.32' } }), 'kubernetes_version');
      expect(body.errors?.[0]?.message).toBe('can move one minor version at a time: from 1.30 the next is 1.31');
    });

    it('API key scope errors name the valid scopes', async () => {
      const body = expectFieldError(await send('POST', '/api-keys', { payload: { name: 'k', scopes: ['root'] } }), 'scopes.0');
      for (const scope of ['full', 'clusters:read', 'clusters:write', 'jobs:read']) expect(body.detail).toContain(scope);
    });
  });

  describe('query strings', () => {
    const lists = () => ['/clouds', '/clusters', '/jobs', '/api-keys', `/clusters/${clusterId}/node-pools`];

    it('limit of 0, 201, -1, 1.5, abc or empty answers 400 validation_failed naming limit, on every list', async () => {
      await expectUnchanged(async () => {
        for (const list of lists()) {
          for (const limit of ['0', '201', '-1', '1.5', 'abc', '']) {
            expectFieldError(await send('GET', `${list}?limit=${limit}`), /(^|\.)limit$/);
          }
          for (const limit of ['1', '200']) expect((await send('GET', `${list}?limit=${limit}`)).statusCode).toBe(200);
        }
      });
    });

    it('a cursor this API did not return (garbage, empty, too long, a bare id) answers 400 naming cursor, on every list', async () => {
      const bareId = newId('cloud');
      const foreignEncoding = Buffer.from(`${bareId}\n`).toString('base64url');
      await expectUnchanged(async () => {
        for (const list of lists()) {
          for (const cursor of ['garbage', '', 'x'.repeat(101), bareId, foreignEncoding, '%00', "'%20OR%201=1--"]) {
            expectFieldError(await send('GET', `${list}?cursor=${cursor}`), /(^|\.)cursor$/);
          }
        }
      });
    });

    it('pagination: limit=2 over 3 clouds gives 2 then 1, every cloud exactly once, next_cursor null at the end', async () => {
      const fresh = await h.newAccount();
      const made = [await createCloud(h, fresh, 'one'), await createCloud(h, fresh, 'two'), await createCloud(h, fresh, 'three')];
      const page = async (url: string) => {
        const response = await h.inject({ method: 'GET', url, headers: fresh.auth });
        expect(response.statusCode, response.body).toBe(200);
        return response.json() as { data: Array<{ id: string; name: string }>; next_cursor: string | null };
      };
      const first = await page('/clouds?limit=2');
      expect(first.data).toHaveLength(2);
      expect(typeof first.next_cursor).toBe('string');
      const second = await page(`/clouds?limit=2&cursor=${encodeURIComponent(first.next_cursor ?? '')}`);
      expect(second.data).toHaveLength(1);
      expect(second.next_cursor).toBeNull();
      const seen = [...first.data, ...second.data].map((cloud) => cloud.id);
      expect(new Set(seen).size).toBe(3);
      expect([...seen].sort()).toEqual([...made].sort());
      // Newest first, as the ids are time-ordered.
      expect(seen).toEqual([...made].reverse());
      const all = await page('/clouds?limit=3');
      expect(all.data.map((cloud) => cloud.id)).toEqual(seen);
      expect(all.next_cursor).toBeNull();
    });

    it('unknown query parameters answer 400 validation_failed naming them, on every paginated list (additionalProperties: false)', async () => {
      await expectUnchanged(async () => {
        for (const list of lists()) {
          const response = await send('GET', `${list}?limit=5&sort=name`);
          expect(response.statusCode, `${list}: ${response.body}`).toBe(400);
          expectFieldError(response, /(^|\.)sort$/);
        }
      });
    });

    it('filter values outside their enum answer 400 naming the filter', async () => {
      expectFieldError(await send('GET', '/clouds?provider=digitalocean'), /(^|\.)provider$/);
      expectFieldError(await send('GET', '/clusters?status=exploded'), /(^|\.)status$/);
      expectFieldError(await send('GET', '/jobs?status=exploded'), /(^|\.)status$/);
      expectFieldError(await send('GET', '/jobs?type=cluster.explode'), /(^|\.)type$/);
      expectFieldError(await send('GET', '/jobs?resource_type=cloud'), /(^|\.)resource_type$/);
      expectFieldError(await send('GET', `/jobs?resource_id=${'j'.repeat(65)}`), /(^|\.)resource_id$/);
      expectFieldError(await send('GET', `/clusters?cloud_id=${'c'.repeat(65)}`), /(^|\.)cloud_id$/);
      expectFieldError(await send('GET', `/clusters/${clusterId}/node-pools?include_deleted=maybe`), /(^|\.)include_deleted$/);
      expectFieldError(await send('GET', `/clusters/${clusterId}/pods/x/logs?tail=0`), /(^|\.)tail$/);
      expectFieldError(await send('GET', `/clusters/${clusterId}/pods/x/logs?tail=5001`), /(^|\.)tail$/);
    });

    it('odd characters in filter values (NUL, quotes, SQL) answer 200 with nothing or 400, never 500', async () => {
      const wrong: string[] = [];
      await expectUnchanged(async () => {
        for (const value of ['%00', "'%20OR%201=1--", '%27%3B%20DROP%20TABLE%20jobs%3B--', '..%2F..%2Fetc', '%C3%B1%F0%9F%92%A5']) {
          for (const url of [`/jobs?resource_id=${value}`, `/clusters?cloud_id=${value}`]) {
            const response = await send('GET', url);
            if (response.statusCode === 200) expect(response.json(), url).toEqual({ data: [], next_cursor: null });
            else if (response.statusCode === 400) expectFieldError(response, /(resource_id|cloud_id)$/);
            else wrong.push(`GET ${url} -> ${response.statusCode}`);
          }
        }
      });
      expect(wrong).toEqual([]);
    });
  });

  describe('path parameters', () => {
    it('ids of 65 characters answer 400 validation_failed naming the parameter; 64 characters answer 404', async () => {
      const long = 'a'.repeat(65);
      const max = 'a'.repeat(64);
      await expectUnchanged(async () => {
        for (const [method, url, param] of [
          ['GET', `/clouds/${long}`, 'id'],
          ['DELETE', `/clouds/${long}`, 'id'],
          ['GET', `/clusters/${long}`, 'id'],
          ['DELETE', `/clusters/${long}`, 'id'],
          ['GET', `/clusters/${long}/node-pools`, 'id'],
          ['GET', `/clusters/${clusterId}/node-pools/${long}`, 'pool'],
          ['DELETE', `/clusters/${clusterId}/node-pools/${long}`, 'pool'],
          ['GET', `/jobs/${long}`, 'id'],
          ['POST', `/jobs/${long}/cancel`, 'id'],
          ['GET', `/api-keys/${long}`, 'id'],
          ['DELETE', `/api-keys/${long}`, 'id'],
        ] as const) {
          expectFieldError(await send(method, url), new RegExp(`(^|\\.)${param}$`));
        }
        // An empty id matches the route with an empty parameter, which the schema refuses.
        expectFieldError(await send('GET', '/clouds/'), 'path.id');
        for (const url of [`/clouds/${max}`, `/clusters/${max}`, `/jobs/${max}`, `/api-keys/${max}`, `/clusters/${clusterId}/node-pools/${max}`]) {
          expectProblem(await send('GET', url), 404, 'not_found');
        }
      });
    });

    it('ids with odd characters (NUL, ../, unicode, SQL, spaces) answer 400 validation_failed naming the parameter', async () => {
      // Ids are letters, digits, `_` and `-` (http/schemas.ts IdParam): anything else is refused before a lookup.
      // (`%2E%2E` is not among them: it is the dot segment `..`, which names another path; see the next case.)
      const odd = ['%00', 'a%00b', '..%2F..%2Fetc%2Fpasswd', '%C3%B1%F0%9F%92%A5', "'%20OR%201=1--", '%27%3B%20DROP%20TABLE%20clouds%3B--', '%25', '%0A', '%20'];
      const wrong: string[] = [];
      await expectUnchanged(async () => {
        for (const id of odd) {
          for (const [method, url, param] of [
            ['GET', `/clouds/${id}`, 'id'],
            ['PATCH', `/clouds/${id}`, 'id'],
            ['DELETE', `/clouds/${id}`, 'id'],
            ['GET', `/clusters/${id}`, 'id'],
            ['GET', `/clusters/${id}/node-pools`, 'id'],
            ['GET', `/clusters/${clusterId}/node-pools/${id}`, 'pool'],
            ['GET', `/jobs/${id}`, 'id'],
            ['POST', `/jobs/${id}/cancel`, 'id'],
            ['GET', `/api-keys/${id}`, 'id'],
          ] as const) {
            const response = await send(method, url, method === 'PATCH' ? { payload: { name: 'renamed' } } : {});
            // Collected rather than thrown at once, so one run lists every request that breaks the rule.
            const paths = response.statusCode === 400 ? ((response.json() as Problem).errors ?? []).map((error) => error.path) : [];
            if (!paths.includes(`path.${param}`)) wrong.push(`${method} ${url} -> ${response.statusCode} ${JSON.stringify(paths)}`);
            else expectProblem(response, 400, 'validation_failed');
          }
        }
      });
      expect(wrong).toEqual([]);
    });

    it('a percent-encoded dot segment in place of an id (%2E%2E, i.e. "..") names another path: 404 with no such route', async () => {
      await expectUnchanged(async () => {
        for (const [method, url, resolved] of [
          // (GET /clouds/%2E%2E would name `/`, the dashboard's page since issue 15: a real route.)
          ['GET', '/clusters/%2E%2E/pods', '/pods'],
          ['DELETE', '/clusters/%2E%2E', '/'],
          ['GET', '/clusters/%2E%2E/node-pools', '/node-pools'],
          ['POST', '/jobs/%2E%2E/cancel', '/cancel'],
        ] as const) {
          const body = expectProblem(await send(method, url), 404, 'not_found');
          expect(body.detail).toBe(`No route ${method} ${resolved}.`);
        }
      });
    });

    it('an id with a NUL byte in a body reference (cluster cloud_id) answers 400 naming the field, never 500', async () => {
      await expectUnchanged(async () => {
        expectFieldError(await send('POST', '/clusters', { payload: { name: 'nul-ref', cloud_id: 'cld_\u0000' } }), 'cloud_id');
      });
    });

    it('an API key name with a NUL byte is refused with 400 naming the field (names are printable), never 500', async () => {
      const before = await count('api_keys');
      expectFieldError(await send('POST', '/api-keys', { payload: { name: 'nul\u0000name' } }), 'name');
      expect(await count('api_keys')).toBe(before);
    });

    it('a malformed percent-encoding in the path answers 400 problem+json', async () => {
      await expectUnchanged(async () => {
        expectProblem(await send('GET', '/clouds/%ZZ'), 400, 'validation_failed');
        expectProblem(await send('GET', '/clusters/%E0%A4%A'), 400, 'validation_failed');
      });
    });

    it('a 10,000-character path that matches no route answers 404 not_found problem+json quickly', async () => {
      await expectUnchanged(async () => {
        const started = Date.now();
        expectProblem(await send('GET', `/${'a'.repeat(10_000)}`), 404, 'not_found');
        expect(Date.now() - started).toBeLessThan(5000);
      });
    });

    it('a 10,000-character id answers 4xx problem+json quickly (not the framework default error body)', async () => {
      await expectUnchanged(async () => {
        const started = Date.now();
        const response = await send('GET', `/clouds/${'a'.repeat(10_000)}`);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(response.statusCode, response.body.slice(0, 300)).toBeGreaterThanOrEqual(400);
        expect(response.statusCode).toBeLessThan(500);
        expectProblem(response, response.statusCode, response.statusCode === 404 ? 'not_found' : 'validation_failed');
      });
    });

    it('unknown routes and methods answer 404 not_found problem+json', async () => {
      for (const [method, url] of [
        ['PUT', '/clouds'],
        ['DELETE', '/clouds'],
        ['POST', `/clouds/${cloudId}`],
        ['GET', '/Clouds'],
        ['GET', '/../etc/passwd'],
      ] as const) {
        expectProblem(await send(method, url, method === 'PUT' || method === 'POST' ? { payload: {} } : {}), 404, 'not_found');
      }
    });
  });

  describe('conflicts', () => {
    it('deleting a cloud used by a live cluster answers 409 conflict and the cloud stays', async () => {
      await expectUnchanged(async () => {
        const body = expectProblem(await send('DELETE', `/clouds/${cloudId}`), 409, 'conflict');
        expect(body.detail).toContain('destroy them first');
        const cloud = await send('GET', `/clouds/${cloudId}`);
        expect(cloud.statusCode).toBe(200);
        expect(cloud.json()).toMatchObject({ id: cloudId, name: 'main', credentials: { configured: true } });
      });
    });

    it('a cloud name already taken answers 409 on create and on rename; no row is added', async () => {
      const other = await createCloud(h, acct, 'spare');
      await expectUnchanged(async () => {
        expectProblem(await send('POST', '/clouds', { payload: validCloud({ name: 'main' }) }), 409, 'conflict');
        expectProblem(await send('PATCH', `/clouds/${other}`, { payload: { name: 'main' } }), 409, 'conflict');
      });
      expect(((await send('GET', `/clouds/${other}`)).json() as { name: string }).name).toBe('spare');
    });

    it('a cluster name already taken answers 409 on create (no cluster, no job) and on rename', async () => {
      await expectUnchanged(async () => {
        expectProblem(await send('POST', '/clusters', { payload: { name: 'prod', cloud_id: cloudId } }), 409, 'conflict');
        expectProblem(await send('PATCH', `/clusters/${oldClusterId}`, { payload: { name: 'prod' } }), 409, 'conflict');
      });
    });

    it('a node pool name already taken answers 409 and the cluster is not left claimed', async () => {
      await expectUnchanged(async () => {
        const response = await send('POST', `/clusters/${clusterId}/node-pools`, {
          payload: { name: 'workers', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 2 },
        });
        expectProblem(response, 409, 'conflict');
      });
      expect(((await send('GET', `/clusters/${clusterId}`)).json() as { active_job_id: string | null }).active_job_id).toBeNull();
    });

    it('canceling a finished job answers 409 conflict and the job is unchanged', async () => {
      await expectUnchanged(async () => {
        const body = expectProblem(await send('POST', `/jobs/${finishedJobId}/cancel`), 409, 'conflict');
        expect(body.detail).toContain('already finished (succeeded)');
      });
      expect((await send('GET', `/jobs/${finishedJobId}`)).json()).toMatchObject({ status: 'succeeded', cancel_requested_at: null });
    });

    it('a cluster busy provisioning answers 409 to upgrade, destroy, node pools and its cloud removal', async () => {
      // No job runner here, so the cluster stays provisioning for as long as the test needs.
      const idle = await startHarness({ runJobs: false });
      try {
        const idleOwner = await idle.newAccount();
        const idleCloud = await createCloud(idle, idleOwner, 'busy-cloud');
        const { clusterId: busy, jobId } = await createCluster(idle, idleOwner, { cloudId: idleCloud, name: 'busy' });
        const call = (method: Method, url: string, payload?: unknown) =>
          idle.inject({ method, url, headers: idleOwner.auth, ...(payload !== undefined ? { payload: payload as InjectOptions['payload'] } : {}) });
        const jobsBefore = await idle.deps.database.db.selectFrom('jobs').select('id').execute();
        const upgrade = expectProblem(await call('POST', `/clusters/${busy}/upgrade`, { kubernetes_version: '1.33' }), 409, 'conflict');
        expect(upgrade.active_job_id).toBe(jobId);
        expectProblem(await call('DELETE', `/clusters/${busy}`), 409, 'conflict');
        expectProblem(
          await call('POST', `/clusters/${busy}/node-pools`, { name: 'early', instance_type: 'm6i.large', min_size: 1, max_size: 3, desired_size: 2 }),
          409,
          'conflict',
        );
        expectProblem(await call('DELETE', `/clouds/${idleCloud}`), 409, 'conflict');
        expectProblem(await call('GET', `/clusters/${busy}/pods`), 409, 'conflict');
        expect(await idle.deps.database.db.selectFrom('jobs').select('id').execute()).toEqual(jobsBefore);
        const cluster = (await call('GET', `/clusters/${busy}`)).json() as { status: string; active_job_id: string; kubernetes_version: string };
        expect(cluster).toMatchObject({ status: 'provisioning', active_job_id: jobId, kubernetes_version: '1.32' });
        expect((await call('GET', `/clouds/${idleCloud}`)).statusCode).toBe(200);
      } finally {
        await idle.close();
      }
    });
  });

  describe('response headers', () => {
    it('success and error responses carry cache-control: no-store and x-content-type-options: nosniff, and no x-powered-by', async () => {
      const responses = [
        await h.inject({ method: 'GET', url: '/healthz' }),
        await send('GET', '/clouds'),
        await send('GET', `/clusters/${clusterId}`),
        await send('GET', `/clusters/${clusterId}/pods`),
        await send('POST', '/clouds', { payload: '{bad', headers: JSON_TYPE }),
        await send('POST', '/clouds', { payload: 'x', headers: { 'content-type': 'text/plain' } }),
        await send('GET', `/clouds/${newId('cloud')}`),
        await send('GET', '/no/such/route'),
        await h.inject({ method: 'GET', url: '/clouds' }),
        await h.inject({ method: 'GET', url: '/clouds', headers: { authorization: 'Bearer skd_nope' } }),
        // Refused by the router itself (malformed percent-encoding), before any hook runs.
        await h.inject({ method: 'GET', url: '/clusters/%E0%A4%A' }),
      ];
      expect(responses.map((response) => response.statusCode)).toEqual([200, 200, 200, 200, 400, 415, 404, 404, 401, 401, 401]);
      for (const response of responses) expectSecurityHeaders(response);
    });
  });
});
