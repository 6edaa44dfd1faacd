// `npm run bench`: the benchmark suite of issue 4. Starts the real server per database (and a second one
// holding the big key set, for keys-1m), seeds them, measures every scenario (runs interleaved, so drift
// hits all scenarios alike), prints the table, and exits
// non-zero when the server does not start or any scenario sees errors or unexpected statuses. Missed
// performance targets are reported, never failed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { processCpuSeconds } from './cpu.mjs';
import { badChecksumKey, unknownKey } from './keys.mjs';
import { parseOptions, USAGE } from './options.mjs';
import { compareDatabases, evaluate, machine, renderComparison, renderDatabase, summarize, writeBenchmarksMd, writeJson } from './report.mjs';
import { precheck, runScenario, SCENARIOS } from './scenarios.mjs';
import { insertBigKeys, seedFixtures } from './seed.mjs';
import { startServer } from './server.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const progress = (message) => console.error(`bench: ${message}`);

/** The generated keys must be judged by the server's own format check exactly as the scenarios assume. */
async function checkKeyFormat() {
  const { isWellFormedApiKey } = await import('../../dist/auth/api-key-format.js');
  for (let i = 0; i < 1000; i++) {
    if (!isWellFormedApiKey(unknownKey())) throw new Error('keys.mjs unknownKey() makes keys the server calls malformed: the key format changed');
    if (isWellFormedApiKey(badChecksumKey())) throw new Error('keys.mjs badChecksumKey() makes keys the server calls well-formed: the key format changed');
  }
}

async function databaseVersion(server) {
  if (server.database.kind === 'sqlite') {
    const db = new Database(':memory:');
    const { version } = db.prepare('select sqlite_version() as version').get();
    db.close();
    return `SQLite ${version}`;
  }
  const client = new pg.Client({ connectionString: server.database.url });
  await client.connect();
  try {
    return `PostgreSQL ${(await client.query('show server_version')).rows[0].server_version}`;
  } finally {
    await client.end();
  }
}

/**
 * What the server logged at warn or above (it runs with LOG_LEVEL=warn, so every log line), from the last
 * 64 KB of its output: a count and the first lines, for the report.
 */
function serverLog(output) {
  const lines = output.split('\n').filter((line) => {
    try {
      return JSON.parse(line).level >= 40;
    } catch {
      return false;
    }
  });
  return { count: lines.length, first: lines.slice(0, 10) };
}

/**
 * Waits until the server has been idle (under 5% of a core) for a second, at most `maxMs`: after the big
 * insert it refills its filter of stored digests (known-digests.ts), which must not land in a measured run.
 */
async function settle(server, maxMs = 60_000) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const before = processCpuSeconds(server.pid);
    await sleep(1000);
    if (processCpuSeconds(server.pid) - before < 0.05) return;
  }
  progress(`warning: the big-key server was still busy after ${maxMs / 1000} s; measuring anyway`);
}

/**
 * Seeds, checks and measures the selected scenarios; returns the runs per scenario. keys-1m runs on
 * `big` (a second server whose table holds the big key set), in the same rounds as everything else.
 */
async function measure(servers, db, options, failures) {
  const runs = new Map();
  let bigKeys = null;
  progress(`${db}: seeding fixtures through the API`);
  const targets = { main: { server: servers.main, secrets: await seedFixtures(servers.main) } };
  if (servers.big) {
    targets.big = { server: servers.big, secrets: await seedFixtures(servers.big) };
    progress(`${db}: inserting ${options.bigKeys.toLocaleString('en-US')} keys for keys-1m`);
    bigKeys = { count: options.bigKeys, insertSeconds: await insertBigKeys(servers.big, options.bigKeys) };
    progress(`${db}: inserted in ${bigKeys.insertSeconds.toFixed(1)} s; waiting for that server to settle`);
    await settle(servers.big);
  }
  const on = (scenario) => (scenario.bigServer ? targets.big : targets.main);
  /** One load run of `scenario` against `target` (a server and its seeded secrets). */
  const load = ({ server, secrets }, scenario, durationSeconds, warmupSeconds) =>
    runScenario({ baseUrl: server.baseUrl, serverPid: server.pid, pgDatabase: server.database.name ?? null, scenario, secrets, connections: options.connections, durationSeconds, warmupSeconds });

  const usable = [];
  for (const scenario of SCENARIOS.filter((s) => options.scenarios.includes(s.name))) {
    try {
      await precheck(on(scenario).server.baseUrl, scenario, on(scenario).secrets);
      usable.push(scenario);
    } catch (error) {
      failures.push(`${db} ${error.message}`);
    }
  }

  if (targets.big) {
    // The same history as the main server before the rounds: V8 specializes (and, once a path has seen
    // many shapes, generalizes) code by what it has run, and /me on a server that never served anything
    // else is faster than /me on one that served every scenario. Unmeasured.
    progress(`${db}: giving the big-key server the main server's history (every scenario, unmeasured)`);
    for (const scenario of usable.filter((s) => !s.bigServer)) {
      await load(targets.big, scenario, Math.min(2, options.durationSeconds), 0);
    }
  }

  const measureRun = async (scenario, run) => {
    const { server } = on(scenario);
    const result = await load(on(scenario), scenario, options.durationSeconds, options.warmupSeconds);
    if (!server.alive()) throw new Error(`the server exited during ${scenario.name}`);
    runs.set(scenario.name, [...(runs.get(scenario.name) ?? []), result]);
    progress(`${db} run ${run}/${options.runs} ${scenario.name}: ${Math.round(result.rps)} req/s, p99 ${result.latencyMs.p99} ms, ${result.errors} errors, ${result.unexpected} unexpected${result.serverCores === null ? '' : `, server ${result.serverCores.toFixed(2)} cores, ${result.serverUsPerResponse} µs CPU/response`}${result.otherCpuShare === null ? '' : `, other processes ${Math.round(result.otherCpuShare * 100)}% CPU`}`);
  };
  for (let run = 1; run <= options.runs; run++) for (const scenario of usable) await measureRun(scenario, run);
  return { runs, bigKeys };
}

async function benchDatabase(db, options, failures) {
  const servers = {};
  const started = [];
  const start = async (role) => {
    progress(`${db}: starting the ${role} server`);
    const server = await startServer({ db, pgAdminUrl: options.pgAdminUrl, cpuProfileDir: options.cpuProfileDir });
    started.push(server);
    return server;
  };
  let measured;
  let dbVersion;
  const exits = [];
  try {
    servers.main = await start('main');
    if (options.scenarios.some((name) => SCENARIOS.find((s) => s.name === name)?.bigServer)) servers.big = await start('big-key');
    dbVersion = await databaseVersion(servers.main);
    measured = await measure(servers, db, options, failures);
  } catch (error) {
    // Whatever went wrong, the servers' own words are the first thing to read.
    const tail = started.map((server) => server.output().trim().split('\n').slice(-20).join('\n')).filter(Boolean).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}${tail ? `\n  server output (last lines):\n${tail}` : ''}`);
  } finally {
    for (const server of started) exits.push(await server.stop());
  }
  const serverExit = exits.find((code) => code !== 0) ?? 0;
  if (serverExit !== 0) progress(`${db}: warning: a server exited with ${serverExit} on SIGTERM`);

  const rows = SCENARIOS.filter((scenario) => measured.runs.has(scenario.name)).map((scenario) => summarize(scenario, measured.runs.get(scenario.name)));
  for (const row of rows) {
    if (row.errors > 0 || row.unexpected > 0) {
      const other = Object.entries(row.statuses).filter(([status]) => Number(status) !== row.expectedStatus).map(([status, count]) => `${status}: ${count}`);
      failures.push(`${db} ${row.name}: ${row.errors} errors, ${row.unexpected} unexpected statuses${other.length > 0 ? ` (${other.join(', ')})` : ''}; expected only ${row.expectedStatus}`);
    }
  }
  // The budget holds for every server process: the larger peak of the two.
  const hwms = started.map((server) => server.rss.hwmKb).filter((kb) => kb !== null);
  const rss = { peakKb: Math.max(...started.map((server) => server.rss.peakKb)), hwmKb: hwms.length > 0 ? Math.max(...hwms) : null, servers: started.length };
  const targets = evaluate(rows, rss);
  const output = started.map((server) => server.output()).join('\n');
  return { db, dbVersion, rows, targets, bigKeys: measured.bigKeys, rss, serverExit, serverLog: serverLog(output) };
}

function withoutPassword(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable)';
  }
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
    console.error('bench: the server is not built: run `npm run build` (npm run bench does it first).');
    process.exit(2);
  }
  await checkKeyFormat();

  const started = Date.now();
  const args = process.argv.slice(2);
  const { help: _help, pgAdminUrl, ...recorded } = options;
  const invocation = {
    date: new Date().toISOString(),
    command: `npm run bench${args.length > 0 ? ` -- ${args.map((arg) => (arg.includes('://') ? withoutPassword(arg) : arg)).join(' ')}` : ''}`,
    machine: machine(),
    // What the results files keep: never a database password.
    options: { ...recorded, ...(options.databases.includes('postgres') ? { pgAdminUrl: withoutPassword(pgAdminUrl) } : {}) },
  };
  const failures = [];
  const results = [];
  for (const db of options.databases) {
    try {
      results.push(await benchDatabase(db, options, failures));
    } catch (error) {
      failures.push(`${db}: ${error instanceof Error ? error.message : String(error)}`);
      break;
    }
  }

  const sections = {};
  for (const result of results) {
    sections[result.db] = renderDatabase(result, invocation);
    console.log(`\n${sections[result.db]}`);
  }
  const comparison = compareDatabases(results);
  if (comparison) {
    sections.comparison = renderComparison(comparison, invocation);
    console.log(`\n${sections.comparison}`);
  }
  const complete = results.length === options.databases.length;
  // BENCHMARKS.md keeps only whole, unprofiled runs; profiled runs and subsets still leave their JSON.
  const pageWorthy = options.cpuProfileDir === null && options.scenarios.length === SCENARIOS.length;
  if (!options.smoke && complete) {
    for (const result of results) progress(`wrote ${path.relative(ROOT, await writeJson(invocation, result, comparison))}`);
    // A run with errors measured something other than the paths it names: keep it out of the page.
    if (failures.length === 0 && pageWorthy) progress(`wrote ${path.relative(ROOT, await writeBenchmarksMd(sections))}`);
  }
  progress(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length > 0) {
    console.error(`\nbench FAILED:\n${failures.map((failure) => `  - ${failure}`).join('\n')}`);
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(`bench: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
