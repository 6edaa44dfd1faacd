// @ts-check
// Which Node.js this project runs on: the `engines.node` range of package.json, checked before anything
// else loads (docs/node-versions.md). On an older Node the server, the CLI and the build would fail later
// with a stack trace from some dependency; this says why in one line instead.
//
// Written for old runtimes on purpose: no dependencies (it runs before node_modules is known to be
// usable) and nothing newer than what Node 14's ES module loader parses.
//
//   node bin/node-support.js      exit 0 (a warning on stderr when newer than tested), or 2 with the reason
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PACKAGE_JSON = new URL('../package.json', import.meta.url);

/**
 * The floors of an engines range written as caret ranges joined by `||` (`^20.19.0 || ^22.13.0 || ^24.0.0`),
 * the only form this project uses: each allows its major from that version on. Anything else throws, so a
 * range edited into another form cannot be misread as allowing what it does not.
 * @param {string} range
 * @returns {{ major: number, minor: number, patch: number }[]}
 */
export function parseEngineRange(range) {
  const floors = range.split('||').map(function (part) {
    const match = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (match === null) throw new Error('engines.node must be caret ranges joined by ||, e.g. ^22.13.0 || ^24.0.0 (got "' + range + '")');
    return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
  });
  return floors.sort(function (a, b) { return a.major - b.major; });
}

/**
 * What to do on Node `version` (process.version, e.g. "v22.23.5") given the engines `range`:
 * `supported` (run), `newer` (a major above every tested one: run, with a warning) or `unsupported`
 * (below a floor, or a major between the tested ones: refuse).
 * @param {string} version
 * @param {string} range
 * @returns {{ verdict: 'supported' | 'newer' | 'unsupported', message: string | null }}
 */
export function nodeSupport(version, range) {
  const floors = parseEngineRange(range);
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (match === null) throw new Error('not a Node.js version: "' + version + '"');
  const found = { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
  const floor = floors.find(function (candidate) { return candidate.major === found.major; });
  /** @type {(a: { minor: number, patch: number }, b: { minor: number, patch: number }) => boolean} */
  const atLeast = function (a, b) {
    if (a.minor !== b.minor) return a.minor > b.minor;
    return a.patch >= b.patch;
  };
  if (floor !== undefined && atLeast(found, floor)) return { verdict: 'supported', message: null };
  const newest = floors[floors.length - 1];
  if (newest === undefined) throw new Error('engines.node is empty');
  if (found.major > newest.major) {
    return {
      verdict: 'newer',
      message: 'warning: Node.js ' + version + ' is newer than the versions SkaleData is tested on (' + range + '); continuing',
    };
  }
  return {
    verdict: 'unsupported',
    message: 'SkaleData needs Node.js ' + range + ', but this is Node.js ' + version + ': install Node.js ' + newest.major + ' (or another version in that range) and run it again.',
  };
}

/** Checks the running Node against package.json; on an unsupported one, prints one line and exits 2. */
export function requireSupportedNode() {
  const range = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')).engines.node;
  const support = nodeSupport(process.version, range);
  if (support.message !== null) console.error(support.message);
  if (support.verdict === 'unsupported') process.exit(2);
}

const invokedAs = process.argv[1] === undefined ? null : realpathSync(process.argv[1]);
if (invokedAs === fileURLToPath(import.meta.url)) requireSupportedNode();
