import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, unwrap, type SkaledataClient } from '../../src/sdk/index.js';
import { firstLine, hasStackTrace, skaledata, type CliRun } from '../helpers/cli-client.js';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';
import { buildTarGz } from '../helpers/dags-archives.js';
import { AWS_CREDENTIALS } from '../helpers/fixtures.js';
import { freePort, runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { startStallingServer } from '../helpers/stalling-server.js';
import { KEY_SCOPE_SETS } from '../integration/expected-routes.js';

/**
 * `skaledata` as a client (issue 11 item 4), run as a process against `skaledata serve` as a process,
 * with a real database. Preset scopes are checked against the seed table written out in
 * expected-routes.ts, through the API (GET /me with the new key).
 */

const IMAGE_V1 = 'registry.example.com/team/etl:v1';
const IMAGE_V2 = 'registry.example.com/team/etl:v2';
const ROOT = path.resolve(import.meta.dirname, '../..');

const SEED = {
  'ci-deploy': 'CI/CD deploy pipeline',
  monitoring: 'monitoring / dashboards',
  'cluster-automation': 'cluster management automation',
  'dag-sync-bot': 'DAG sync bot',
} as const;
const seedScopes = (useCase: string): string[] => KEY_SCOPE_SETS.find((set) => set.name === useCase)?.scopes ?? [];

const json = <T>(run: CliRun): T => JSON.parse(run.stdout) as T;

describe(`the skaledata CLI as a client (${TEST_DIALECT})`, () => {
  let scratch: ScratchDatabase;
  let server: ServerProcess;
  let home: string;
  let token: string;
  let user: SkaledataClient;
  let cloudId: string;
  let clusterId: string;
  let appId: string;
  let pod: string;

  /** The environment of a user who has run `skaledata login` (config in its own folder). */
  let env: Record<string, string>;
  const keys = new Map<string, { id: string; key: string }>();
  const withKey = (name: string): Record<string, string> => ({ ...env, SKALEDATA_API_KEY: keys.get(name)?.key ?? '' });

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    const serverEnv = { DATABASE_URL: scratch.url, DATA_DIR: scratch.dataDir, DEV_ISSUER: 'on', SIMULATED_STEP_MS: '20', JOB_POLL_INTERVAL_MS: '20', JOB_LEASE_MS: '1500' };
    server = await startServer(serverEnv);
    token = (await runCli(['dev-token', '--email', 'cli@example.com'], serverEnv)).trim();
    home = mkdtempSync(path.join(tmpdir(), 'skd-cli-home-'));
    env = { HOME: home, SKALEDATA_CONFIG: path.join(home, 'cfg', 'config.json') };

    user = createClient({ baseUrl: server.baseUrl, token });
    await unwrap(user.POST('/billing/subscription', { body: { plan: 'business' } }));
    cloudId = (await unwrap(user.POST('/clouds', { body: { name: 'main', provider: 'aws', region: 'us-east-1', credentials: AWS_CREDENTIALS } }))).id;
    const accepted = await unwrap(user.POST('/clusters', { body: { name: 'base', cloud_id: cloudId } }));
    await user.waitForJob(accepted.job.id, { intervalMs: 50, timeoutMs: 20_000 });
    clusterId = accepted.cluster.id;
    const app = await unwrap(user.POST('/apps', { body: { name: 'etl', cluster_id: clusterId, type: 'airflow', image: IMAGE_V1 } }));
    await user.waitForApp(app.id, { intervalMs: 50, timeoutMs: 20_000 });
    appId = app.id;
    pod = (await unwrap(user.GET('/clusters/{id}/pods', { params: { path: { id: clusterId } } }))).data[0]?.name ?? '';
  });
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await scratch?.drop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('login checks the credential, stores it in a 0600 file, and SKALEDATA_API_KEY / SKALEDATA_API_URL override it', async () => {
    const login = await skaledata(['login', '--api-url', server.baseUrl, '--with-token-stdin'], env, `${token}\n`);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toContain('logged in to');
    const file = env.SKALEDATA_CONFIG ?? '';
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ api_url: server.baseUrl, token });

    const me = await skaledata(['whoami', '--json'], env);
    expect(me.code, me.stderr).toBe(0);
    expect(json<{ me: { type: string; email: string } }>(me).me).toMatchObject({ type: 'user', email: 'cli@example.com' });

    const key = await unwrap(user.POST('/api-keys', { body: { name: 'env-override', scopes: ['jobs:read'] } }));
    const overridden = await skaledata(['whoami', '--json'], { ...env, SKALEDATA_API_KEY: key.key });
    expect(json<{ me: { type: string; api_key: { id: string } } }>(overridden).me).toMatchObject({ type: 'api_key', api_key: { id: key.id } });
    const elsewhere = await skaledata(['whoami'], { ...env, SKALEDATA_API_URL: `http://127.0.0.1:${await freePort()}` });
    expect(elsewhere.code).toBe(3);
    expect(firstLine(elsewhere)).toMatch(/^error: cannot reach the SkaleData API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) \(unreachable\)$/);
    expect(hasStackTrace(elsewhere.stderr)).toBe(false);

    // A piped key, no flag: recognised by its prefix; the XDG folder when SKALEDATA_CONFIG is unset.
    const xdg = path.join(home, 'xdg');
    const xdgEnv = { HOME: home, XDG_CONFIG_HOME: xdg };
    const piped = await skaledata(['login', '--api-url', server.baseUrl], xdgEnv, `${key.key}\n`);
    expect(piped.code, piped.stderr).toBe(0);
    const xdgFile = path.join(xdg, 'skaledata', 'config.json');
    expect(JSON.parse(readFileSync(xdgFile, 'utf8'))).toEqual({ api_url: server.baseUrl, api_key: key.key });
    expect(statSync(xdgFile).mode & 0o777).toBe(0o600);
    const logout = await skaledata(['logout'], xdgEnv);
    expect(logout.code).toBe(0);
    expect(existsSync(xdgFile)).toBe(false);
    const loggedOut = await skaledata(['whoami'], xdgEnv);
    expect(loggedOut.code).toBe(4);
    expect(firstLine(loggedOut)).toBe('error: not logged in (unauthenticated)');

    const refused = await skaledata(['login', '--api-url', server.baseUrl, '--api-key', 'skd_notarealkey'], xdgEnv);
    expect(refused.code).toBe(4);
    expect(firstLine(refused)).toContain('(invalid_token)');
    expect(existsSync(xdgFile)).toBe(false);
  });

  it('keys create --preset gives exactly the seed table\'s scopes (checked through the API); the secret alone on stdout', async () => {
    for (const [preset, useCase] of Object.entries(SEED)) {
      const run = await skaledata(['keys', 'create', '--name', preset, '--preset', preset], env);
      expect(run.code, run.stderr).toBe(0);
      const secret = run.stdout.trim();
      expect(secret).toMatch(/^skd_[A-Za-z0-9]{38}$/);
      const me = await unwrap(createClient({ baseUrl: server.baseUrl, apiKey: secret }).GET('/me'));
      expect(me.api_key?.scopes).toEqual(seedScopes(useCase));
      keys.set(preset, { id: me.api_key?.id ?? '', key: secret });
    }
    const explicit = await skaledata(['keys', 'create', '--name', 'two', '--scope', 'jobs:read', '--scope', 'apps:read', '--json'], env);
    expect(json<{ scopes: string[]; key: string }>(explicit).scopes).toEqual(['jobs:read', 'apps:read']);
    const listed = await skaledata(['keys', 'list', '--json'], env);
    const ids = json<{ data: Array<{ id: string }> }>(listed).data.map((key) => key.id);
    for (const { id } of keys.values()) expect(ids).toContain(id);

    const bad = await skaledata(['keys', 'create', '--name', 'x', '--preset', 'admin'], env);
    expect(bad.code).toBe(2);
    expect(firstLine(bad)).toBe('error: --preset must be one of ci-deploy, monitoring, cluster-automation, dag-sync-bot (got "admin") (usage)');
    const byKey = await skaledata(['keys', 'create', '--name', 'x'], withKey('monitoring'));
    expect(byKey.code).toBe(1);
    expect(firstLine(byKey)).toMatch(/\(user_session_required\)$/);
  });

  it('keys create/update set and change restrictions (allowed_ips, resources, scope lapses), checked through the API', async () => {
    const at = new Date(Date.now() + 3600_000).toISOString();
    const created = await skaledata(
      ['keys', 'create', '--name', 'fenced', '--scope', 'clusters:read', '--scope', 'jobs:read', '--allow-ip', '10.0.0.0/8', '--scope-expires', `jobs:read=${at}`, '--json'],
      env,
    );
    expect(created.code, created.stderr).toBe(0);
    const key = json<{ id: string; allowed_ips: string[]; scope_expires_at: Record<string, string> }>(created);
    expect(key.allowed_ips).toEqual(['10.0.0.0/8']);
    expect(key.scope_expires_at).toEqual({ 'jobs:read': at });

    const updated = await skaledata(['keys', 'update', key.id, '--name', 'renamed', '--scope', 'clusters:read', '--any-ip', '--rate-limit', '600/60'], env);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toContain('scopes clusters:read; from any address; the whole account; 600 requests per 60 s');
    const stored = await unwrap(user.GET('/api-keys/{id}', { params: { path: { id: key.id } } }));
    // Narrowing dropped jobs:read, and its lapse with it.
    expect(stored).toMatchObject({ name: 'renamed', scopes: ['clusters:read'], allowed_ips: null, scope_expires_at: null, resources: null, rate_limit: { requests: 600, per_seconds: 60 } });
    const badLimit = await skaledata(['keys', 'update', key.id, '--rate-limit', 'lots'], env);
    expect(badLimit.code).toBe(2);

    const widened = await skaledata(['keys', 'update', key.id, '--scope', 'clusters:write'], env);
    expect(widened.code).toBe(1);
    expect(firstLine(widened)).toMatch(/can only be narrowed.*\(validation_failed\)$/);
    const nothing = await skaledata(['keys', 'update', key.id], env);
    expect(nothing.code).toBe(2);
    const both = await skaledata(['keys', 'update', key.id, '--allow-ip', '10.0.0.1', '--any-ip'], env);
    expect(both.code).toBe(2);
    expect(firstLine(both)).toBe('error: pass --allow-ip or --any-ip, not both (usage)');
  });

  it('keys create --canary makes a tripwire key; keys roll --retire-old-on-first-use keeps the old secret until the new one is used', async () => {
    const created = await skaledata(['keys', 'create', '--name', 'tripwire', '--canary', '--json'], env);
    expect(created.code, created.stderr).toBe(0);
    const canary = json<{ id: string; key: string; canary: boolean }>(created);
    expect(canary.canary).toBe(true);
    const refused = await skaledata(['whoami'], { ...env, SKALEDATA_API_KEY: canary.key });
    expect(refused.code).toBe(4);
    expect(firstLine(refused)).toContain('(invalid_token)');
    const listed = await skaledata(['keys', 'list'], env);
    expect(listed.stdout).toMatch(new RegExp(`${canary.id}.*canary, active`));

    const plain = await skaledata(['keys', 'create', '--name', 'rolling', '--scope', 'clusters:read', '--json'], env);
    const old = json<{ id: string; key: string }>(plain);
    const rolled = await skaledata(['keys', 'roll', old.id, '--retire-old-on-first-use'], env);
    expect(rolled.code, rolled.stderr).toBe(0);
    expect(rolled.stderr).toContain('the old one works until the new one is first used, or 7 days at most');
    const fresh = rolled.stdout.trim();
    expect(fresh).toMatch(/^skd_[A-Za-z0-9]{38}$/);
    const status = (key: string) =>
      createClient({ baseUrl: server.baseUrl, apiKey: key })
        .GET('/me')
        .then(
          (answer) => answer.response.status,
          (error: unknown) => (error as { status?: number }).status,
        );
    expect(await status(old.key)).toBe(200);
    expect(await status(fresh)).toBe(200);
    expect(await status(old.key)).toBe(401);
    const noGrace = await skaledata(['keys', 'roll', old.id, '--retire-old-on-first-use', '--grace', '0'], env);
    expect(noGrace.code).toBe(2);
  });

  it('clusters create --wait with a cluster-automation key follows the cluster (no jobs:read) and says so; a failure exits 5', async () => {
    const run = await skaledata(['clusters', 'create', '--name', 'auto', '--cloud', 'main', '--wait', '--json'], withKey('cluster-automation'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("this key cannot read jobs (no jobs:read): waiting on cluster auto's status instead");
    const { cluster } = json<{ cluster: { id: string; status: string } }>(run);
    expect(cluster.status).toBe('running');
    expect((await unwrap(user.GET('/clusters/{id}', { params: { path: { id: cluster.id } } }))).status).toBe('running');

    const listed = await skaledata(['clusters', 'list'], withKey('cluster-automation'));
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(listed.stdout).toContain(cluster.id);

    const failing = await skaledata(['clusters', 'create', '--name', 'x-simfail-create-network', '--cloud', cloudId, '--wait'], withKey('cluster-automation'));
    expect(failing.code).toBe(5);
    expect(failing.stderr).toMatch(/^error: cluster x-simfail-create-network \(cls_\w+\) is failed.*\(resource_failed\)$/m);
    const failingJob = await skaledata(['clusters', 'create', '--name', 'y-simfail-create-network', '--cloud', cloudId, '--wait'], env);
    expect(failingJob.code).toBe(5);
    expect(failingJob.stderr).toMatch(/^\[2\/5\] create-network: failed$/m);
    expect(failingJob.stderr).toMatch(/^error: job job_\w+ \(cluster.create\) failed.*\(job_failed\)$/m);
  });

  it('apps deploy --wait with a ci-deploy key follows the deploy; a name needs apps:read', async () => {
    const run = await skaledata(['apps', 'deploy', appId, '--image', IMAGE_V2, '--wait', '--json'], withKey('ci-deploy'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('this key cannot read jobs (no jobs:read): waiting on deploy dep_');
    expect(json<{ deploy: { status: string; image: string } }>(run).deploy).toMatchObject({ status: 'succeeded', image: IMAGE_V2 });
    expect(await unwrap(user.GET('/apps/{id}', { params: { path: { id: appId } } }))).toMatchObject({ image: IMAGE_V2, status: 'running' });

    const byName = await skaledata(['apps', 'deploy', 'etl', '--image', IMAGE_V1], withKey('ci-deploy'));
    expect(byName.code).toBe(1);
    expect(byName.stderr.split('\n')).toEqual([
      'error: API key missing required scope: apps:read (insufficient_scope)',
      'looking up the app "etl" by name needs apps:read: pass its id (app_…) instead',
      '',
    ]);
    // The user may name it, and follows the job's steps.
    const asUser = await skaledata(['apps', 'deploy', 'etl', '--image', IMAGE_V1, '--wait'], env);
    expect(asUser.code, asUser.stderr).toBe(0);
    expect(asUser.stderr).toMatch(/^\[1\/\d\] [a-z-]+: succeeded$/m);
    expect(asUser.stdout.trim()).toBe(`deployed ${IMAGE_V1} to ${appId} (deploy ${/dep_\w+/.exec(asUser.stdout)?.[0]})`);
  });

  it('dags push with a dag-sync-bot key uploads a folder or an archive; --wait cannot follow it (exit 7)', async () => {
    const dir = path.join(home, 'dags');
    mkdirSync(path.join(dir, 'lib'), { recursive: true });
    mkdirSync(path.join(dir, '__pycache__'), { recursive: true });
    writeFileSync(path.join(dir, 'etl.py'), "from airflow import DAG\n\nwith DAG('etl') as dag:\n    pass\n");
    writeFileSync(path.join(dir, 'lib', 'helpers.py'), 'def helper():\n    return 1\n');
    writeFileSync(path.join(dir, '__pycache__', 'etl.cpython-312.pyc'), 'x');
    writeFileSync(path.join(dir, 'notes.bin'), 'x');

    const run = await skaledata(['dags', 'push', appId, dir, '--json'], withKey('dag-sync-bot'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('left out (not a DAG file): notes.bin');
    const { bundle } = json<{ bundle: { files: Array<{ path: string }> } }>(run);
    expect(bundle.files.map((file) => file.path)).toEqual(['etl.py', 'lib/helpers.py']);

    const archive = path.join(home, 'bundle.tar.gz');
    writeFileSync(archive, await buildTarGz([{ name: 'dags/a.py', data: 'a = 1\n' }]));
    const packed = await skaledata(['dags', 'push', appId, archive, '--wait', '--json'], withKey('dag-sync-bot'));
    expect(packed.code).toBe(7);
    expect(packed.stderr).toMatch(/^error: uploaded DAG bundle v2 \(dag_\w+, 1 files\) for app_\w+ \(job job_\w+\), but this key cannot follow it: it lacks jobs:read and apps:read \(not_followed\)$/m);
    expect(json<{ error: { code: string; job_id: string } }>(packed).error).toMatchObject({ code: 'not_followed', job_id: expect.stringMatching(/^job_/) });
    const synced = await skaledata(['dags', 'push', 'etl', archive, '--wait', '--json'], env);
    expect(synced.code, synced.stderr).toBe(0);
    expect(json<{ bundle: { status: string; version: number } }>(synced).bundle).toMatchObject({ status: 'synced', version: 3 });
  });

  it('jobs wait prints the steps and exits 0; without jobs:read it prints the seed sentence and the scope to add', async () => {
    const accepted = await unwrap(user.POST('/apps/{id}/restart', { params: { path: { id: appId } } }));
    const run = await skaledata(['jobs', 'wait', accepted.job.id], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^\[1\/\d\] [a-z-]+: succeeded$/m);
    expect(run.stdout.trim()).toBe(`job ${accepted.job.id} (app.restart) succeeded`);
    const asJson = await skaledata(['jobs', 'wait', accepted.job.id, '--json'], withKey('monitoring'));
    expect(json<{ id: string; status: string }>(asJson)).toMatchObject({ id: accepted.job.id, status: 'succeeded' });

    const refused = await skaledata(['jobs', 'wait', accepted.job.id], withKey('ci-deploy'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'error: API key missing required scope: jobs:read (insufficient_scope)\nadd the scope jobs:read to this key, or create one with --preset monitoring\n',
    );
    const refusedJson = await skaledata(['jobs', 'wait', accepted.job.id, '--json'], withKey('ci-deploy'));
    expect(json<{ error: { code: string; required_scope: string } }>(refusedJson).error).toMatchObject({ code: 'insufficient_scope', required_scope: 'jobs:read' });
  });

  it('logs prints the last lines of a pod (JSON lines with --json)', async () => {
    const run = await skaledata(['logs', 'base', pod, '--tail', '3'], withKey('monitoring'));
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toContain(pod);
    const asJson = await skaledata(['logs', clusterId, pod, '--tail', '2', '--json'], withKey('monitoring'));
    expect(asJson.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { line: string }).line)).toHaveLength(2);
  });

  it('events prints the audit trail, newest first, filtered by type or key; a key without full is refused', async () => {
    const clouds = await skaledata(['events', '--type', 'cloud.created', '--json'], env);
    expect(clouds.code, clouds.stderr).toBe(0);
    expect(json<{ data: Array<{ type: string; subject: { id: string } }> }>(clouds).data.map((event) => [event.type, event.subject.id])).toEqual([['cloud.created', cloudId]]);
    const monitoring = keys.get('monitoring')?.id ?? '';
    const byKey = await skaledata(['events', '--key', monitoring, '--json'], env);
    expect(json<{ data: Array<{ type: string }> }>(byKey).data.map((event) => event.type)).toContain('api_key.created');
    const text = await skaledata(['events', '--limit', '2'], env);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME +TYPE +ACTOR +SUBJECT +FROM$/);
    expect(lines).toHaveLength(3);
    expect((await skaledata(['events', '--type', 'cluster.exploded'], env)).code).toBe(1);
    expect((await skaledata(['events', '--since', 'yesterday'], env)).code).toBe(2);
    const refused = await skaledata(['events'], withKey('monitoring'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('API key missing required scope: full');
  });

  it('bad input: a bad flag or command exits 2, a revoked or expired key exits 4, each with one line and no stack trace', async () => {
    const flag = await skaledata(['clusters', 'list', '--bogus'], env);
    expect(flag.code).toBe(2);
    expect(firstLine(flag)).toMatch(/^error: Unknown option '--bogus'.* \(usage\)$/);
    const missing = await skaledata(['apps', 'deploy', appId], env);
    expect(missing.code).toBe(2);
    expect(firstLine(missing)).toBe('error: --image is required (e.g. --image registry.example.com/team/etl:1.4.2) (usage)');
    const tail = await skaledata(['logs', 'base', pod, '--tail', 'lots'], env);
    expect(tail.code).toBe(2);
    const unknown = await skaledata(['clusterz'], env);
    expect(unknown.code).toBe(2);

    const doomed = await unwrap(user.POST('/api-keys', { body: { name: 'doomed', scopes: ['clusters:read'] } }));
    expect((await skaledata(['clusters', 'list'], { ...env, SKALEDATA_API_KEY: doomed.key })).code).toBe(0);
    const revoke = await skaledata(['keys', 'revoke', doomed.id], env);
    expect(revoke.code, revoke.stderr).toBe(0);
    const revoked = await skaledata(['clusters', 'list'], { ...env, SKALEDATA_API_KEY: doomed.key });
    expect(revoked.code).toBe(4);
    expect(firstLine(revoked)).toMatch(/^error: .+ \(invalid_token\)$/);
    // An expired key: the same one line and exit code as a revoked one.
    const brief = await unwrap(user.POST('/api-keys', { body: { name: 'brief', scopes: ['clusters:read'], expires_at: new Date(Date.now() + 1_500).toISOString() } }));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const expired = await skaledata(['clusters', 'list'], { ...env, SKALEDATA_API_KEY: brief.key });
    expect(expired.code).toBe(4);
    expect(firstLine(expired)).toMatch(/^error: .+ \(invalid_token\)$/);
    expect(expired.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    for (const run of [flag, missing, tail, unknown, revoked, expired]) expect(hasStackTrace(run.stderr)).toBe(false);
  });

  it('the SDK is importable as the package subpath skaledata-control-plane/sdk', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--input-type=module', '-e', "const sdk = await import('skaledata-control-plane/sdk'); console.log(typeof sdk.createClient, Object.keys(sdk.SCOPE_PRESETS).join(','))"],
      { cwd: ROOT },
    );
    expect(stdout.trim()).toBe('function ci-deploy,monitoring,cluster-automation,dag-sync-bot');
  });
});

describe('the skaledata CLI against an API that never answers', () => {
  it('jobs wait --timeout 1 exits 6 (timeout) at its deadline; a broken config file is not read when the environment gives URL and key', async () => {
    const stalling = await startStallingServer();
    const home = mkdtempSync(path.join(tmpdir(), 'skd-cli-stall-'));
    try {
      const config = path.join(home, 'config.json');
      writeFileSync(config, '{ broken', { mode: 0o600 });
      const env = { HOME: home, SKALEDATA_CONFIG: config, SKALEDATA_API_URL: stalling.baseUrl, SKALEDATA_API_KEY: 'skd_x' };
      const started = Date.now();
      const run = await skaledata(['jobs', 'wait', 'job_x', '--timeout', '1'], env);
      expect(run.code, run.stderr).toBe(6);
      expect(firstLine(run)).toMatch(/^error: still not finished after 1 s.* \(timeout\)$/);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(stalling.requests).toContain('GET /jobs/job_x');

      // A file others may read still works, with one warning line first.
      writeFileSync(config, JSON.stringify({ api_url: stalling.baseUrl, api_key: 'skd_x' }));
      chmodSync(config, 0o644);
      const warned = await skaledata(['jobs', 'wait', 'job_x', '--timeout', '1'], { HOME: home, SKALEDATA_CONFIG: config });
      expect(warned.code, warned.stderr).toBe(6);
      expect(firstLine(warned)).toBe(`warning: ${config} is accessible by other users (mode 0644); run chmod 600 ${config}`);
      for (const each of [run, warned]) expect(hasStackTrace(each.stderr)).toBe(false);
    } finally {
      await stalling.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
