import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryRepository } from '../../src/modules/registry/registry-service.js';
import { startHarness, TEST_DIALECT, waitFor, type Account, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/server-process.js';
import { createRunningApp, type AppFixture } from '../helpers/tokens-fixtures.js';

/**
 * Issue 11: a stock Docker Distribution registry (Debian's `docker-registry`, 2.8) configured as the
 * README says, with skopeo as the client. Nothing here verifies our tokens with our own code: the
 * registry accepts or refuses them, and skopeo reports what it did.
 */

const REGISTRY_BIN = 'docker-registry';
const SKOPEO = 'skopeo';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 60_000, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    // A tool that exits without reading its input (most do) must not fail the run with EPIPE.
    child.stdin?.on('error', () => undefined);
    if (input === undefined) child.stdin?.end();
    else child.stdin?.end(input);
  });
}

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A one-layer OCI image layout (image-spec v1.1), built here: nothing is downloaded. */
async function buildOciLayout(dir: string, tag: string, marker: string): Promise<{ manifestDigest: string; layerDigest: string }> {
  const tar = pack();
  tar.entry({ name: 'hello.txt', mtime: new Date(0) }, `hello from ${marker}\n`);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  const layerTar = Buffer.concat(chunks);
  const layer = gzipSync(layerTar);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello.txt'] }, rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const blob of [layer, config, manifest]) await writeFile(path.join(dir, 'blobs', 'sha256', sha256(blob).slice('sha256:'.length)), blob);
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { manifestDigest: sha256(manifest), layerDigest: sha256(layer) };
}

const missingTools = async () => {
  const missing: string[] = [];
  for (const tool of [REGISTRY_BIN, SKOPEO]) if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) missing.push(tool);
  return missing;
};

describe(`a stock Docker registry trusts our tokens (${TEST_DIALECT})`, () => {
  let h: Harness;
  let work: string;
  let registry: ChildProcess | undefined;
  let registryLog = '';
  let host: string;
  let a: Account;
  let b: Account;
  let appA: AppFixture;
  let appB: AppFixture;
  let image: { manifestDigest: string; layerDigest: string };
  let keys: Record<'deploy' | 'read' | 'clusters' | 'full', string>;

  const repoOf = (account: Account, app: AppFixture) => registryRepository(account.accountId, app.name);
  const authfile = (name: string) => path.join(work, `auth-${name}.json`);

  async function login(name: string, password: string): Promise<RunResult> {
    return run(SKOPEO, ['login', '--tls-verify=false', '--authfile', authfile(name), '--username', 'ci', '--password-stdin', host], password);
  }
  async function push(name: string, repository: string, tag = 'v1'): Promise<RunResult> {
    return run(SKOPEO, ['copy', '--dest-tls-verify=false', '--authfile', authfile(name), `oci:${path.join(work, 'image')}:v1`, `docker://${host}/${repository}:${tag}`]);
  }
  async function inspect(name: string, repository: string, tag = 'v1'): Promise<RunResult> {
    return run(SKOPEO, ['inspect', '--raw', '--tls-verify=false', '--authfile', authfile(name), `docker://${host}/${repository}:${tag}`]);
  }

  beforeAll(async () => {
    const missing = await missingTools();
    if (missing.length > 0) throw new Error(`${missing.join(' and ')} not installed: apt-get install -y docker-registry skopeo (.ci/run does it)`);
    work = await mkdtemp(path.join(tmpdir(), 'skaledata-registry-'));
    const port = await freePort();
    host = `127.0.0.1:${port}`;
    h = await startHarness({ runJobs: true, env: { REGISTRY_SERVICE: host } });
    const apiUrl = (await h.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
    [a, b] = await Promise.all([h.newAccount(), h.newAccount()]);
    [appA, appB] = await Promise.all([createRunningApp(h, a), createRunningApp(h, b)]);
    keys = {
      deploy: (await h.createKey(a, ['apps:deploy'])).key,
      read: (await h.createKey(a, ['apps:read'])).key,
      clusters: (await h.createKey(a, ['clusters:read'])).key,
      full: (await h.createKey(b, ['full'])).key,
    };
    image = await buildOciLayout(path.join(work, 'image'), 'v1', appA.appId);

    // The registry settings of the README's "Docker registry" section.
    const certs = await fetch(`${apiUrl}/.well-known/registry-certs.pem`);
    expect(certs.status).toBe(200);
    await writeFile(path.join(work, 'registry-certs.pem'), await certs.text());
    await writeFile(
      path.join(work, 'config.yml'),
      [
        'version: 0.1',
        'log: { level: info }',
        `storage: { filesystem: { rootdirectory: ${path.join(work, 'storage')} } }`,
        `http: { addr: "${host}" }`,
        'auth:',
        '  token:',
        `    realm: ${apiUrl}/registry/token`,
        `    service: "${host}"`,
        `    issuer: ${h.deps.config.publicUrl}`,
        `    rootcertbundle: ${path.join(work, 'registry-certs.pem')}`,
        '',
      ].join('\n'),
    );
    registry = spawn(REGISTRY_BIN, ['serve', path.join(work, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    registry.stdout?.on('data', (chunk: Buffer) => (registryLog += chunk.toString()));
    registry.stderr?.on('data', (chunk: Buffer) => (registryLog += chunk.toString()));
    const challenge = await waitFor(async () => {
      if (registry?.exitCode !== null) throw new Error(`the registry exited:\n${registryLog}`);
      const answer = await fetch(`http://${host}/v2/`).catch(() => undefined);
      return answer?.status === 401 ? (answer.headers.get('www-authenticate') ?? '') : undefined;
    }, 15_000, 100);
    expect(challenge).toBe(`Bearer realm="${apiUrl}/registry/token",service="${host}"`);
  }, 60_000);

  afterAll(async () => {
    registry?.kill('SIGKILL');
    await h?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('skopeo logs in through our realm with an apps:deploy key, pushes an image built here and pulls it back with the same digest', async () => {
    expect(await login('deploy', keys.deploy)).toMatchObject({ code: 0, stdout: expect.stringContaining('Login Succeeded') });
    const pushed = await push('deploy', repoOf(a, appA));
    expect(pushed.stderr + registryLog.slice(-2000)).not.toMatch(/untrusted key|invalid token/);
    expect(pushed.code).toBe(0);

    const raw = await inspect('deploy', repoOf(a, appA));
    expect(raw.code).toBe(0);
    expect(sha256(raw.stdout)).toBe(image.manifestDigest);

    // Pulled back whole: the layer the registry serves is the one pushed.
    const out = path.join(work, 'pulled');
    const pulled = await run(SKOPEO, ['copy', '--src-tls-verify=false', '--authfile', authfile('deploy'), `docker://${host}/${repoOf(a, appA)}:v1`, `oci:${out}:v1`]);
    expect(pulled.code).toBe(0);
    const index = JSON.parse(await readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    expect(index.manifests[0]?.digest).toBe(image.manifestDigest);
    const layer = await readFile(path.join(out, 'blobs', 'sha256', image.layerDigest.slice('sha256:'.length)));
    expect(sha256(layer)).toBe(image.layerDigest);
  });

  it("the registry itself refuses another account's repository and a repository no app of the account has", async () => {
    expect((await login('deploy-2', keys.deploy)).code).toBe(0);
    const foreign = await push('deploy-2', repoOf(b, appB));
    expect(foreign.code).not.toBe(0);
    expect(foreign.stderr).toMatch(/denied|unauthorized|authentication required/i);
    const noApp = await push('deploy-2', `${repoOf(a, appA).split('/')[0]}/no-such-app`);
    expect(noApp.code).not.toBe(0);
    expect(noApp.stderr).toMatch(/denied|unauthorized|authentication required/i);
    // And the other account's own full key cannot read account A's image.
    expect((await login('b-full', keys.full)).code).toBe(0);
    const peek = await inspect('b-full', repoOf(a, appA));
    expect(peek.code).not.toBe(0);
    expect(peek.stderr).toMatch(/denied|unauthorized|authentication required/i);
  });

  it('apps:read pulls but cannot push; a key without an apps scope can log in but gets nothing', async () => {
    expect((await login('read', keys.read)).code).toBe(0);
    expect((await inspect('read', repoOf(a, appA))).code).toBe(0);
    const pushed = await push('read', repoOf(a, appA), 'v2');
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/denied|unauthorized|authentication required/i);

    expect((await login('clusters', keys.clusters)).code).toBe(0);
    const peek = await inspect('clusters', repoOf(a, appA));
    expect(peek.code).not.toBe(0);
  });

  it('wrong credentials fail at login, as the realm answers 401', async () => {
    const wrong = await login('wrong', `skd_${'A'.repeat(38)}`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/401|unauthorized|invalid/i);
  });

  it('a token from POST /apps/{id}/registry-token is accepted by the registry as is', async () => {
    const issued = await h.inject({ method: 'POST', url: `/apps/${appA.appId}/registry-token`, headers: { authorization: `Bearer ${keys.deploy}` }, payload: { actions: ['pull'] } });
    expect(issued.statusCode).toBe(200);
    const { token, repository } = issued.json() as { token: string; repository: string };
    expect(repository).toBe(repoOf(a, appA));
    const raw = await run(SKOPEO, ['inspect', '--raw', '--tls-verify=false', '--registry-token', token, `docker://${host}/${repository}:v1`]);
    expect(raw.code).toBe(0);
    expect(sha256(raw.stdout)).toBe(image.manifestDigest);
    // The same pull-only token cannot push.
    const pushed = await run(SKOPEO, ['copy', '--dest-tls-verify=false', '--dest-registry-token', token, `oci:${path.join(work, 'image')}:v1`, `docker://${host}/${repository}:v3`]);
    expect(pushed.code).not.toBe(0);
  });
});
