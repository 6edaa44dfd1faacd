import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids.js';
import { bearer, startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import type { Problem } from '../helpers/problem.js';
import { createRunningApp, type AppFixture } from '../helpers/tokens-fixtures.js';

/**
 * GET /apps/{id}/deploy-script (issue 3 item 4): a POSIX sh script that passes `sh -n` and shellcheck,
 * holds no secret, and really deploys when a CI pipeline runs it with the seed's CI/CD key
 * (["apps:deploy", "clusters:read"]) against a listening server, with a fake `docker` on PATH.
 */

const REGISTRY = 'registry.skaledata.local';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the script with sh (bounded in time), the way a CI job would. */
function runScript(file: string, env: Record<string, string>, cwd: string, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `docker` (or `podman`) that logs each call, and the password it was given on stdin for login. */
function fakeEngine(binDir: string, name: string, logFile: string): void {
  const stub = `#!/bin/sh
printf '%s\\n' "$*" >> '${logFile}'
if [ "$1" = login ]; then
  printf 'password=%s\\n' "$(cat)" >> '${logFile}'
fi
# FAKE_ENGINE_FAIL=<subcommand> makes that step fail (a broken Dockerfile, a refused push).
if [ "$1" = "\${FAKE_ENGINE_FAIL:-}" ]; then exit 1; fi
exit 0
`;
  writeFileSync(path.join(binDir, name), stub);
  chmodSync(path.join(binDir, name), 0o755);
}

describe(`deploy script (${TEST_DIALECT})`, () => {
  let h: Harness;
  let a: Account;
  let b: Account;
  let appA: AppFixture;
  let appB: AppFixture;
  let ciKey: { id: string; key: string };
  let address: string;
  let work: string;

  const getScript = (appId: string, headers: Record<string, string>) => h.inject({ method: 'GET', url: `/apps/${appId}/deploy-script`, headers });

  /** A fresh folder with the script, a fake engine on PATH and an empty build context. */
  function workspace(script: string, engine: 'docker' | 'podman' | null = 'docker') {
    const dir = mkdtempSync(path.join(work, 'run-'));
    const bin = path.join(dir, 'bin');
    const context = path.join(dir, 'context');
    mkdirSync(bin);
    mkdirSync(context);
    const log = path.join(dir, 'engine.log');
    writeFileSync(log, '');
    if (engine) fakeEngine(bin, engine, log);
    const file = path.join(dir, 'deploy.sh');
    writeFileSync(file, script);
    const env = (extra: Record<string, string>) => ({
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: dir,
      SKALEDATA_API_URL: address,
      BUILD_CONTEXT: context,
      SKALEDATA_POLL_INTERVAL: '1',
      SKALEDATA_DEPLOY_TIMEOUT: '40',
      ...extra,
    });
    const calls = () => readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
    return { dir, file, context, env, calls };
  }

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    [a, b] = await Promise.all([h.newAccount(), h.newAccount()]);
    [appA, appB] = await Promise.all([createRunningApp(h, a, { name: 'web' }), createRunningApp(h, b)]);
    ciKey = await h.createKey(a, ['apps:deploy', 'clusters:read']);
    address = await h.app.listen({ host: '127.0.0.1', port: 0 });
    work = mkdtempSync(path.join(tmpdir(), 'skd-deploy-script-'));
  });
  afterAll(async () => {
    await h?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('serves a POSIX shell script for the app that passes sh -n and shellcheck and holds no secret', async () => {
    const response = await getScript(appA.appId, bearer(ciKey.key));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('text/x-shellscript; charset=utf-8');
    expect(response.headers['content-disposition']).toBe('attachment; filename="deploy-web.sh"');
    const script = response.body;
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain(`\nAPP_ID='${appA.appId}'\n`);
    expect(script).toContain("\nDEFAULT_API_URL='http://127.0.0.1:8080'\n");
    expect(script).toContain('SKALEDATA_API_KEY');
    expect(script).not.toContain(ciKey.key);
    expect(script).not.toMatch(/skd_[0-9A-Za-z]{10,}|eyJ[0-9A-Za-z_-]{10,}/);
    expect(script).not.toContain(a.token);

    const file = path.join(work, 'lint.sh');
    writeFileSync(file, script);
    const syntax = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
    expect(syntax.status, syntax.stderr).toBe(0);
    const lint = spawnSync('shellcheck', ['--shell=sh', '--severity=style', file], { encoding: 'utf8' });
    expect(lint.error, 'shellcheck must be installed (apt-get install -y shellcheck)').toBeUndefined();
    expect(lint.stdout + lint.stderr).toBe('');
    expect(lint.status).toBe(0);
  });

  it('refuses another account\'s or a missing app (same 404), keys without apps:deploy (403) and bad ids (400)', async () => {
    const missing = newId('app');
    const foreign = await getScript(appB.appId, bearer(ciKey.key));
    const absent = await getScript(missing, bearer(ciKey.key));
    expect(foreign.statusCode).toBe(404);
    const strip = (body: Problem, id: string) => ({ ...body, request_id: '', detail: body.detail.replace(id, '<id>') });
    expect(strip(foreign.json() as Problem, appB.appId)).toEqual(strip(absent.json() as Problem, missing));

    const readOnly = await h.createKey(a, ['clusters:read', 'apps:read', 'jobs:read']);
    const refused = await getScript(appA.appId, bearer(readOnly.key));
    expect(refused.statusCode).toBe(403);
    expect((refused.json() as Problem).detail).toBe('API key missing required scope: apps:deploy');
    expect((await getScript('bad%20id!', bearer(ciKey.key))).statusCode).toBe(400);
  });

  it('run by CI with the CI/CD key: logs in to the registry with the key (through our realm), builds, pushes and deploys', async () => {
    const script = (await getScript(appA.appId, bearer(ciKey.key))).body;
    const ws = workspace(script);
    const result = await runScript(ws.file, ws.env({ SKALEDATA_API_KEY: ciKey.key, IMAGE_TAG: 'v1.2.3' }), ws.dir);
    const calls = ws.calls();

    const repository = `${a.accountId.toLowerCase()}/web`;
    const image = `${REGISTRY}/${repository}:v1.2.3`;
    expect(calls[0]).toBe(`login --username skaledata --password-stdin ${REGISTRY}`);
    // The engine logs in with the API key itself; the registry then gets tokens from our realm with it.
    const password = (calls[1] ?? '').replace(/^password=/, '');
    expect(password).toBe(ciKey.key);
    const realm = await h.inject({
      method: 'GET',
      url: `/registry/token?service=${encodeURIComponent(REGISTRY)}&scope=${encodeURIComponent(`repository:${repository}:pull,push`)}`,
      headers: { authorization: `Basic ${Buffer.from(`skaledata:${password}`).toString('base64')}` },
    });
    expect(realm.statusCode, realm.body).toBe(200);
    const jwks = (await h.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as JSONWebKeySet;
    const { payload } = await jwtVerify((realm.json() as { token: string }).token, createLocalJWKSet(jwks), { audience: REGISTRY, algorithms: ['ES256'] });
    expect(payload.sub).toBe(ciKey.id);
    expect(payload.access).toEqual([{ type: 'repository', name: repository, actions: ['pull', 'push'] }]);
    expect(calls.slice(2)).toEqual([`build --tag ${image} ${ws.context}`, `push ${image}`, `logout ${REGISTRY}`]);
    // The key never reaches a command line or the output.
    expect(result.stdout + result.stderr).not.toContain(ciKey.key);

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`deploy dep_\\w+ succeeded: ${image.replace(/[.]/g, '\\.')} is live\\.`));
    const deploys = (await h.inject({ method: 'GET', url: `/apps/${appA.appId}/deploys`, headers: a.auth })).json() as { data: Array<{ image: string; status: string; created_by: string }> };
    expect(deploys.data.map((deploy) => [deploy.image, deploy.status, deploy.created_by])).toEqual([[image, 'succeeded', ciKey.id]]);
  });

  it('a failed build or push still logs the engine out: the key is not left in its credential store', async () => {
    const script = (await getScript(appA.appId, bearer(ciKey.key))).body;
    for (const step of ['build', 'push']) {
      const ws = workspace(script);
      const result = await runScript(ws.file, ws.env({ SKALEDATA_API_KEY: ciKey.key, IMAGE_TAG: 'broken', FAKE_ENGINE_FAIL: step }), ws.dir);
      expect(result.code, step).not.toBe(0);
      const calls = ws.calls();
      expect(calls[0]).toBe(`login --username skaledata --password-stdin ${REGISTRY}`);
      expect(calls.at(-1), step).toBe(`logout ${REGISTRY}`);
      expect(calls.filter((call) => call.startsWith('logout'))).toHaveLength(1);
    }
  });

  it('exits non-zero with the reason when the rollout fails', async () => {
    const failing = await createRunningApp(h, a, { name: 'api-simfail-wait-for-rollout', clusterId: appA.clusterId });
    const ws = workspace((await getScript(failing.appId, bearer(ciKey.key))).body);
    const result = await runScript(ws.file, ws.env({ SKALEDATA_API_KEY: ciKey.key, IMAGE_TAG: 'broken' }), ws.dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /skaledata-deploy: error: deploy dep_\w+ failed: Step wait-for-rollout failed: new pods did not become ready within the timeout \(simulated CrashLoopBackOff\)\n$/,
    );
  });

  it('uses podman when asked, and stops before any build on a missing key, a key without the scope, a bad tag or engine', async () => {
    const script = (await getScript(appA.appId, bearer(ciKey.key))).body;

    const noKey = workspace(script);
    const missing = await runScript(noKey.file, noKey.env({}), noKey.dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('skaledata-deploy: error: SKALEDATA_API_KEY is not set');
    expect(noKey.calls()).toEqual([]);

    const readOnly = await h.createKey(a, ['clusters:read']);
    const scoped = workspace(script);
    const refused = await runScript(scoped.file, scoped.env({ SKALEDATA_API_KEY: readOnly.key }), scoped.dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`POST /apps/${appA.appId}/registry-token answered HTTP 403: API key missing required scope: apps:deploy`);
    expect(scoped.calls()).toEqual([]);

    const badTag = workspace(script);
    const tagged = await runScript(badTag.file, badTag.env({ SKALEDATA_API_KEY: ciKey.key, IMAGE_TAG: 'x";rm -rf /' }), badTag.dir);
    expect(tagged.code).toBe(1);
    expect(tagged.stderr).toContain('IMAGE_TAG must be letters, digits');
    expect(badTag.calls()).toEqual([]);

    const badEngine = workspace(script);
    const engine = await runScript(badEngine.file, badEngine.env({ SKALEDATA_API_KEY: ciKey.key, SKALEDATA_CONTAINER_ENGINE: 'rkt' }), badEngine.dir);
    expect(engine.code).toBe(1);
    expect(engine.stderr).toContain('SKALEDATA_CONTAINER_ENGINE must be docker or podman');

    const podman = workspace(script, 'podman');
    const viaPodman = await runScript(podman.file, podman.env({ SKALEDATA_API_KEY: ciKey.key, SKALEDATA_CONTAINER_ENGINE: 'podman', IMAGE_TAG: 'p1' }), podman.dir);
    expect(viaPodman.code, viaPodman.stderr).toBe(0);
    expect(podman.calls().filter((line) => !line.startsWith('password='))).toEqual([
      `login --username skaledata --password-stdin ${REGISTRY}`,
      `build --tag ${REGISTRY}/${a.accountId.toLowerCase()}/web:p1 ${podman.context}`,
      `push ${REGISTRY}/${a.accountId.toLowerCase()}/web:p1`,
      `logout ${REGISTRY}`,
    ]);
  });
});
