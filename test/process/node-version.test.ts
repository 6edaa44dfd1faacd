import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { beforeAll, describe, expect, it } from 'vitest';
import { nodeSupport, parseEngineRange } from '../../bin/node-support.js';
import { hasStackTrace, runNode, type CliRun } from '../helpers/cli-client.js';
import { CLI } from '../helpers/server-process.js';

/**
 * The Node.js versions skaledata runs on (docs/node-versions.md): package.json's engines range, checked by
 * bin/node-support.js before the server, the CLI or the build load anything. Its verdicts are compared with
 * npm's own semver; then real Node.js binaries from the npm registry (scripts/node-binary.sh) below the
 * floor and above the newest tested major run the real entry points.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const RANGE = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
const CHECK = path.join(ROOT, 'bin/node-support.js');
/** Below the floor: an older major (does the check even parse there?) and the last release before 20.19. */
const TOO_OLD = ['18.20.8', '20.18.3'];
/** A major newer than any tested: runs, with a warning. */
const NEWER = '26.12.1';

const ciVersions = readFileSync(path.join(ROOT, '.ci/node-versions'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

/** What npm (semver) says of `version` against `range`, in nodeSupport's words. */
function semverVerdict(version: string, range: string): 'supported' | 'newer' | 'unsupported' {
  if (semver.satisfies(version, range)) return 'supported';
  return semver.gtr(version, range) ? 'newer' : 'unsupported';
}

/** Runs `node argv…` in the repository; a server it starts (it should not) gets a port and folder of its own. */
async function run(node: string, argv: string[]): Promise<CliRun> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'skd-node-version-'));
  try {
    return await runNode(node, argv, { HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const nodeBinaries = new Map<string, string>();
async function installNode(version: string): Promise<string> {
  const { stdout } = await promisify(execFile)('bash', [path.join(ROOT, 'scripts/node-binary.sh'), version], { timeout: 170_000 });
  return path.join(stdout.trim(), 'bin/node');
}

describe('the Node.js versions skaledata runs on', () => {
  describe('the engines range and its check', () => {
    it('is caret ranges npm reads as we do', () => {
      expect(semver.validRange(RANGE)).not.toBeNull();
      const floors = parseEngineRange(RANGE);
      expect(floors.map((floor) => `^${floor.major}.${floor.minor}.${floor.patch}`).join(' || ')).toBe(RANGE.split('||').map((part) => part.trim()).join(' || '));
    });

    it("gives npm's semver verdict on every release line from Node 16 to 30", () => {
      const floors = parseEngineRange(RANGE);
      const versions: string[] = [];
      for (let major = 16; major <= 30; major++) {
        const floor = floors.find((candidate) => candidate.major === major);
        const minors = new Set([0, 1, 11, 12, 13, 14, 18, 19, 20, 40, ...(floor ? [floor.minor - 1, floor.minor, floor.minor + 1] : [])]);
        for (const minor of [...minors].filter((m) => m >= 0)) for (const patch of [0, 1, 9]) versions.push(`${major}.${minor}.${patch}`);
      }
      // Each floor itself and the release just below it.
      for (const { major, minor, patch } of floors) {
        versions.push(`${major}.${minor}.${patch}`);
        if (patch > 0) versions.push(`${major}.${minor}.${patch - 1}`);
        else if (minor > 0) versions.push(`${major}.${minor - 1}.99`);
      }
      const disagreements = versions.filter((version) => nodeSupport(`v${version}`, RANGE).verdict !== semverVerdict(version, RANGE));
      expect(disagreements).toEqual([]);
      expect(new Set(versions.map((version) => semverVerdict(version, RANGE)))).toEqual(new Set(['supported', 'newer', 'unsupported']));
    });

    it('refuses an engines range in any other form rather than guess what it allows', () => {
      for (const range of ['>=20.19', '^20.19 || ^22.13.0', '20.x', '^20.19.0 | ^22.13.0', '']) {
        expect(() => parseEngineRange(range), range).toThrow(/caret ranges/);
      }
    });

    it('is what CI proves: every release in .ci/node-versions is supported, and each major of the range but the lowest (the machine\'s own) has one', () => {
      expect(ciVersions.length).toBeGreaterThan(0);
      for (const version of ciVersions) expect(nodeSupport(`v${version}`, RANGE).verdict, version).toBe('supported');
      const majors = parseEngineRange(RANGE).map((floor) => floor.major);
      expect(new Set(ciVersions.map((version) => semver.major(version)))).toEqual(new Set(majors.slice(1)));
    });
  });

  describe('real Node.js binaries', () => {
    beforeAll(async () => {
      for (const version of [...TOO_OLD, NEWER]) nodeBinaries.set(version, await installNode(version));
    }, 600_000);

    for (const version of TOO_OLD) {
      it(`on Node ${version}, the server, the CLI and the build's check refuse in one line naming it and the range (exit 2)`, async () => {
        const node = nodeBinaries.get(version) ?? '';
        expect((await run(node, ['--version'])).stdout.trim()).toBe(`v${version}`);
        for (const args of [[CLI, 'serve'], [CLI, 'clusters', 'list'], [CLI, 'help'], [CHECK]]) {
          const result = await run(node, args);
          const label = `node ${version} ${args.map((arg) => path.relative(ROOT, arg) || arg).join(' ')}`;
          expect(result.code, label).toBe(2);
          expect(result.stdout, label).toBe('');
          expect(result.stderr.endsWith('\n') && result.stderr.trimEnd().split('\n').length, label).toBe(1);
          expect(result.stderr, label).toContain(`this is Node.js v${version}`);
          expect(result.stderr, label).toContain(`needs Node.js ${RANGE}`);
          expect(hasStackTrace(result.stderr), label).toBe(false);
        }
      });
    }

    it(`on Node ${NEWER} (newer than tested) the CLI runs, after one warning line`, async () => {
      const result = await run(nodeBinaries.get(NEWER) ?? '', [CLI, 'help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('skaledata serve');
      expect(result.stderr).toBe(`warning: Node.js v${NEWER} is newer than the versions SkaleData is tested on (${RANGE}); continuing\n`);
    });

    it(`on the Node running the tests (${process.version}) the CLI runs and says nothing of versions`, async () => {
      const result = await run(process.execPath, [CLI, 'help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('skaledata serve');
      expect(result.stderr).toBe('');
    });
  });
});
