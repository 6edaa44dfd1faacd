// Fixtures for the benchmark. The small ones go through the server's own HTTP API, as a user would make
// them; the big key table is written straight into the database (an HTTP call per key would take hours),
// with digests made by the server's own digestApiKey so the rows are exactly what POST /api-keys stores.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SignJWT } from 'jose';
import pg from 'pg';
import { unknownKey } from './keys.mjs';
import { CLERK_ISSUER } from './server.mjs';

export const SCOPED_LIST_CLUSTERS = 20;
const SESSION_TTL_SECONDS = 24 * 3600;
const CLUSTERS_READY_TIMEOUT_MS = 60_000;
const AWS_CREDENTIALS = { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' };

/**
 * What the key-restricted scenario's key carries (CONTRACT §7), sized as issue 12's Speed section asks:
 * 10 CIDRs (127.0.0.1, where the load comes from, among them), a 5-cluster resource list and a rate
 * limit far above any load. Every restriction of that key is set here, in one place.
 */
export function keyRestrictions({ clusterIds }) {
  return {
    resources: { clusters: clusterIds.slice(0, 5) },
    allowed_ips: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '198.51.100.0/24', '203.0.113.0/24', '192.0.2.0/24', '2001:db8::/32', 'fd00::/8', '::1', '127.0.0.1'],
    rate_limit: { requests: 1_000_000, per_seconds: 1 },
  };
}

/** The key-rate-limited scenario's key: one request a day, spent while seeding, so every measured request is a 429. */
const SPENT_RATE_LIMIT = { requests: 1, per_seconds: 86_400 };

/** A session token shaped like Clerk's (RS256; sub, sid, iss, azp, exp/nbf/iat), signed with the bench's key pair. */
export async function mintSession(privateKey, userId, email) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    sub: userId,
    sid: `sess_${randomBytes(12).toString('hex')}`,
    iss: CLERK_ISSUER,
    azp: 'https://app.skaledata.local',
    email,
    iat: now,
    nbf: now,
    exp: now + SESSION_TTL_SECONDS,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: 'ins_bench' })
    .sign(privateKey);
}

async function call(baseUrl, method, path, token, body) {
  const response = await globalThis.fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

async function expectStatus(baseUrl, method, path, token, body, status) {
  const response = await call(baseUrl, method, path, token, body);
  if (response.status !== status) {
    throw new Error(`seeding: ${method} ${path} answered ${response.status}, expected ${status}: ${JSON.stringify(response.body)}`);
  }
  return response.body;
}

async function waitForClusters(baseUrl, token, count) {
  const deadline = Date.now() + CLUSTERS_READY_TIMEOUT_MS;
  for (;;) {
    const { data } = await expectStatus(baseUrl, 'GET', '/clusters?limit=200', token, undefined, 200);
    const provisioning = data.filter((cluster) => cluster.status === 'provisioning').length;
    const failed = data.filter((cluster) => cluster.status === 'failed');
    if (failed.length > 0) throw new Error(`seeding: cluster ${failed[0].id} failed: ${failed[0].status_reason}`);
    if (data.length === count && provisioning === 0) return;
    if (Date.now() > deadline) throw new Error(`seeding: clusters still provisioning after ${CLUSTERS_READY_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
}

/**
 * Two accounts. The owner's holds the keys under test (full, clusters:read, apps:read), one cloud and
 * 20 clusters; a neighbour account holds a key, a cloud and a cluster, so account filtering has rows to skip.
 * Everything goes through the deployment's first instance; the others must serve it as they find it.
 */
export async function seedFixtures(deployment) {
  const { baseUrl, privateKey } = deployment;
  const owner = await mintSession(privateKey, 'user_bench_owner', 'owner@bench.skaledata.local');
  const neighbour = await mintSession(privateKey, 'user_bench_neighbour', 'neighbour@bench.skaledata.local');

  // The business plan allows 25 clusters.
  await expectStatus(baseUrl, 'POST', '/billing/subscription', owner, { plan: 'business' }, 200);
  const createKey = async (token, name, scopes, restrictions = {}) => (await expectStatus(baseUrl, 'POST', '/api-keys', token, { name, scopes, ...restrictions }, 201)).key;
  const fullKey = await createKey(owner, 'bench-full', ['full']);
  const clustersReadKey = await createKey(owner, 'bench-clusters-read', ['clusters:read']);
  const appsReadKey = await createKey(owner, 'bench-apps-read', ['apps:read']);
  const rateLimitedKey = await createKey(owner, 'bench-rate-limited', ['clusters:read'], { rate_limit: SPENT_RATE_LIMIT });
  await expectStatus(baseUrl, 'GET', '/clusters', rateLimitedKey, undefined, 200);
  await createKey(neighbour, 'neighbour-full', ['full']);
  // Issue 13: a canary key, answered 401 like an unknown key; its first use here puts it in the cache, as
  // the repeated unknown key's does, so key-canary and key-unknown-repeated compare cached lookups.
  const canaryKey = await createKey(owner, 'bench-canary', ['full'], { canary: true });
  await expectStatus(baseUrl, 'GET', '/me', canaryKey, undefined, 401);
  const repeatedUnknownKey = unknownKey();
  await expectStatus(baseUrl, 'GET', '/me', repeatedUnknownKey, undefined, 401);

  const createCloud = async (token) =>
    (await expectStatus(baseUrl, 'POST', '/clouds', token, { name: 'bench', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS }, 201)).id;
  const ownerCloud = await createCloud(owner);
  const clusterIds = [];
  for (let i = 1; i <= SCOPED_LIST_CLUSTERS; i++) {
    clusterIds.push((await expectStatus(baseUrl, 'POST', '/clusters', owner, { name: `bench-${String(i).padStart(2, '0')}`, cloud_id: ownerCloud }, 202)).cluster.id);
  }
  const restrictedKey = await createKey(owner, 'bench-restricted', ['clusters:read'], keyRestrictions({ clusterIds }));
  const neighbourCloud = await createCloud(neighbour);
  await expectStatus(baseUrl, 'POST', '/clusters', neighbour, { name: 'neighbour-01', cloud_id: neighbourCloud }, 202);

  // Provisioning jobs must be over before measuring: a running job would take CPU from the server.
  await waitForClusters(baseUrl, owner, SCOPED_LIST_CLUSTERS);
  await waitForClusters(baseUrl, neighbour, 1);
  return { sessionToken: owner, fullKey, clustersReadKey, appsReadKey, restrictedKey, rateLimitedKey, canaryKey, repeatedUnknownKey };
}

const COLUMNS = [
  'id', 'account_id', 'name', 'scopes', 'prefix', 'last_four', 'key_hash', 'previous_hash', 'previous_expires_at',
  'created_at', 'created_by', 'last_used_at', 'expires_at', 'revoked_at', 'rolled_at',
];
const BULK_SCOPES = [['full'], ['clusters:read'], ['apps:deploy', 'clusters:read'], ['apps:read']].map((scopes) => JSON.stringify(scopes));
const KEYS_PER_ACCOUNT = 100;
const TRANSACTION_ROWS = 50_000;

/**
 * The server's own digest, display parts and id generator, from the build. The keys themselves come from
 * keys.mjs (same format, checked against the server's isWellFormedApiKey at start; no one ever sends
 * them), which is four times cheaper than the CSPRNG for a million keys.
 */
async function serverKeyFunctions() {
  const format = await import('../../dist/auth/api-key-format.js');
  const ids = await import('../../dist/lib/ids.js');
  return { generateApiKey: unknownKey, digestApiKey: format.digestApiKey, displayParts: format.displayParts, newId: ids.newId };
}

function bulkRows(fns, pepper, start, count) {
  const rows = [];
  const baseMs = Date.now() - 365 * 24 * 3600 * 1000;
  for (let i = start; i < start + count; i++) {
    const key = fns.generateApiKey();
    const { prefix, lastFour } = fns.displayParts(key);
    const createdMs = baseMs + i;
    const user = `user_bench_bulk_${Math.floor(i / KEYS_PER_ACCOUNT)}`;
    const at = new Date(createdMs).toISOString();
    rows.push([fns.newId('apiKey', createdMs), user, `bulk-${i}`, BULK_SCOPES[i % BULK_SCOPES.length], prefix, lastFour, fns.digestApiKey(key, pepper), null, null, at, user, null, null, null, null]);
  }
  return rows;
}

async function insertSqlite(file, fns, pepper, count) {
  const ROWS_PER_STATEMENT = 500; // 7,500 parameters, well under SQLite's limit
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 10000');
    // This connection's own page cache (not the server's): random digests touch the whole unique index.
    db.pragma('cache_size = -262144');
    // A scratch database: durability of the load itself does not matter, only the rows do.
    db.pragma('synchronous = OFF');
    const statementFor = (rows) =>
      db.prepare(`INSERT INTO api_keys (${COLUMNS.join(', ')}) VALUES ${Array(rows).fill(`(${COLUMNS.map(() => '?').join(', ')})`).join(', ')}`);
    const full = statementFor(ROWS_PER_STATEMENT);
    const insertChunk = db.transaction((rows) => {
      for (let offset = 0; offset < rows.length; offset += ROWS_PER_STATEMENT) {
        const batch = rows.slice(offset, offset + ROWS_PER_STATEMENT);
        (batch.length === ROWS_PER_STATEMENT ? full : statementFor(batch.length)).run(batch.flat());
      }
    });
    for (let done = 0; done < count; done += TRANSACTION_ROWS) insertChunk(bulkRows(fns, pepper, done, Math.min(TRANSACTION_ROWS, count - done)));
    // Fold the WAL back into the file, as a long-running server would have by the time it held this many keys.
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

async function insertPostgres(url, fns, pepper, count) {
  const ROWS_PER_STATEMENT = 1000; // 15,000 parameters, under PostgreSQL's 65,535
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const textFor = (rows) =>
      `INSERT INTO api_keys (${COLUMNS.join(', ')}) VALUES ${Array.from({ length: rows }, (_, r) => `(${COLUMNS.map((_c, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`).join(', ')}`;
    const fullText = textFor(ROWS_PER_STATEMENT);
    for (let done = 0; done < count; done += TRANSACTION_ROWS) {
      const rows = bulkRows(fns, pepper, done, Math.min(TRANSACTION_ROWS, count - done));
      await client.query('BEGIN');
      try {
        for (let offset = 0; offset < rows.length; offset += ROWS_PER_STATEMENT) {
          const batch = rows.slice(offset, offset + ROWS_PER_STATEMENT);
          const query = batch.length === ROWS_PER_STATEMENT ? { name: 'bench_bulk_keys', text: fullText } : { text: textFor(batch.length) };
          await client.query({ ...query, values: batch.flat() });
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
    // Fresh statistics and visibility map, as autovacuum would leave them; otherwise it may start mid-run.
    await client.query('VACUUM ANALYZE api_keys');
  } finally {
    await client.end();
  }
}

/** Adds `count` keys to the deployment's database, spread over accounts of 100 keys each; returns the seconds it took. */
export async function insertBigKeys(deployment, count) {
  const started = Date.now();
  const fns = await serverKeyFunctions();
  const { database, pepper } = deployment;
  if (database.kind === 'sqlite') await insertSqlite(database.file, fns, pepper, count);
  else await insertPostgres(database.url, fns, pepper, count);
  return (Date.now() - started) / 1000;
}
