// Command-line options of `npm run bench`, validated once.
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SCENARIO_NAMES } from './scenarios.mjs';

export const USAGE = `Usage: npm run bench -- [options]

  --duration <s>       seconds per measured run (default 10)
  --connections <n>    concurrent connections (default 50)
  --runs <n>           runs per scenario; the table shows the median (default 3)
  --warmup <s>         unmeasured load before each run (default 1)
  --db <kind>          sqlite, postgres, or both (SQLite then PostgreSQL, compared) (default sqlite)
  --instances <n>      1 or 2 (default 1): with 2, PostgreSQL is served by two server processes of one
                       deployment (one database, the same secrets and Redis prefix), the load split
                       round-robin between them; needs --db postgres or both (SQLite stays at 1) and an
                       even --connections
  --big-keys <n>       keys in the table for keys-1m (default 1000000)
  --scenarios <list>   comma-separated subset of: ${SCENARIO_NAMES.join(', ')}
  --pg-url <url>       PostgreSQL server to create the scratch database on
                       (default $BENCH_PG_ADMIN_URL or postgres://postgres@127.0.0.1:5432/postgres)
  --cpu-prof <dir>     run the server under \`node --cpu-prof\`; one .cpuprofile per server process lands in <dir>
                       (profiled numbers are slower: such a run writes no BENCHMARKS.md)
  --pin <on|off>       run the servers on CPU 0 and the load generator on CPU 1 (taskset) (default on)
  --node <path>        run the servers on this Node.js binary (default: the one running the bench). Twice or
                       more: one deployment per Node, measured in the same rounds, and a table comparing them,
                       e.g. --node /usr/bin/node --node "$(scripts/node-binary.sh 24.22.3)/bin/node". A Node of
                       another ABI gets its own install of the server's dependencies (cached; see runtime.mjs)
  --smoke              CI check: 2 s, 1 run, no warm-up, 10,000 big keys, every scenario; writes no files
  --help`;

const SMOKE = { duration: 2, runs: 1, warmup: 0, bigKeys: 10_000 };
const DEFAULTS = { duration: 10, runs: 3, warmup: 1, bigKeys: 1_000_000 };

function number(values, name, { min, max, integer = true }) {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new Error(`--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}

function pinOption(raw) {
  if (raw === undefined || raw === 'on') return true;
  if (raw === 'off') return false;
  throw new Error(`--pin must be on or off (got "${raw}")`);
}

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      db: { type: 'string' },
      instances: { type: 'string' },
      'big-keys': { type: 'string' },
      scenarios: { type: 'string' },
      'pg-url': { type: 'string' },
      'cpu-prof': { type: 'string' },
      pin: { type: 'string' },
      node: { type: 'string', multiple: true },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return { help: true };
  const preset = values.smoke ? SMOKE : DEFAULTS;
  const db = values.db ?? 'sqlite';
  if (!['sqlite', 'postgres', 'both'].includes(db)) throw new Error(`--db must be sqlite, postgres or both (got "${db}")`);
  const scenarios = values.scenarios === undefined ? SCENARIO_NAMES : values.scenarios.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = scenarios.filter((name) => !SCENARIO_NAMES.includes(name));
  if (unknown.length > 0 || scenarios.length === 0) throw new Error(`--scenarios takes a comma list of ${SCENARIO_NAMES.join(', ')} (got "${values.scenarios}")`);
  const connections = number(values, 'connections', { min: 1, max: 1000 }) ?? 50;
  const instances = number(values, 'instances', { min: 1, max: 2 }) ?? 1;
  if (instances > 1 && db === 'sqlite') {
    throw new Error(`--instances ${instances} needs --db postgres or --db both: a SQLite database serves one process, so only PostgreSQL runs several instances`);
  }
  // autocannon gives connection i to instance i mod n: an odd count would load one instance more than the other.
  if (connections % instances !== 0) throw new Error(`--connections must be a multiple of --instances (${instances}), so each instance gets as many connections (got ${connections})`);
  const missing = (values.node ?? []).filter((node) => !existsSync(node));
  if (missing.length > 0) throw new Error(`--node takes the path of a Node.js binary (not found: ${missing.join(', ')})`);
  const nodes = (values.node ?? []).map((node) => realpathSync(node));
  if (new Set(nodes).size !== nodes.length) throw new Error('--node: each Node.js binary once (after following links)');
  if (nodes.length > 4) throw new Error('--node: at most 4 binaries');
  return {
    help: false,
    smoke: values.smoke,
    durationSeconds: number(values, 'duration', { min: 1, max: 3600, integer: false }) ?? preset.duration,
    connections,
    runs: number(values, 'runs', { min: 1, max: 50 }) ?? preset.runs,
    warmupSeconds: number(values, 'warmup', { min: 0, max: 600, integer: false }) ?? preset.warmup,
    databases: db === 'both' ? ['sqlite', 'postgres'] : [db],
    /** Server processes of the PostgreSQL deployments (SQLite's always have one). */
    instances,
    bigKeys: number(values, 'big-keys', { min: 0, max: 20_000_000 }) ?? preset.bigKeys,
    // Keep the order of the table, whatever the order asked for.
    pin: pinOption(values.pin),
    /** Node.js binaries the servers run on; empty: the one running the bench. */
    nodes,
    scenarios: SCENARIO_NAMES.filter((name) => scenarios.includes(name)),
    cpuProfileDir: values['cpu-prof'] === undefined ? null : path.resolve(values['cpu-prof']),
    pgAdminUrl: values['pg-url'] ?? process.env.BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}
