// `npm run bench`: the benchmark suite of issue 4. Starts the real server per database, seeds it, measures
// every scenario (runs interleaved, so drift hits all scenarios alike), prints the table, and exits
// non-zero when the server does not start or any scenario sees errors or unexpected statuses. Missed
// performance targets are reported, never failed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
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

/** Seeds, checks and measures the selected scenarios on a started server; returns the runs per scenario. */
async function measure(server, db, options, failures) {
  const runs = new Map();
  let bigKeys = null;
  progress(`${db}: seeding fixtures through the API`);
  const secrets = await seedFixtures(server);
  const selected = SCENARIOS.filter((scenario) => options.scenarios.includes(scenario.name));
  const usable = [];
  for (const scenario of selected.filter((s) => !s.afterBigInsert)) {
    try {
      await precheck(server.baseUrl, scenario, secrets);
      usable.push(scenario);
    } catch (error) {
      failures.push(`${db} ${error.message}`);
    }
  }

  const measureRun = async (scenario, run) => {
    const result = await runScenario({ baseUrl: server.baseUrl, serverPid: server.pid, pgDatabase: server.database.name ?? null, scenario, secrets, connections: options.connections, durationSeconds: options.durationSeconds, warmupSeconds: options.warmupSeconds });
    if (!server.alive()) throw new Error(`the server exited during ${scenario.name}`);
    runs.set(scenario.name, [...(runs.get(scenario.name) ?? []), result]);
    progress(`${db} run ${run}/${options.runs} ${scenario.name}: ${Math.round(result.rps)} req/s, p99 ${result.latencyMs.p99} ms, ${result.errors} errors, ${result.unexpected} unexpected${result.serverCores === null ? '' : `, server ${result.serverCores.toFixed(2)} cores, ${result.serverUsPerResponse} µs CPU/response`}${result.otherCpuShare === null ? '' : `, other processes ${Math.round(result.otherCpuShare * 100)}% CPU`}`);
  };
  for (let run = 1; run <= options.runs; run++) for (const scenario of usable) await measureRun(scenario, run);

  const afterInsert = selected.filter((s) => s.afterBigInsert);
  if (afterInsert.length > 0) {
    progress(`${db}: inserting ${options.bigKeys.toLocaleString('en-US')} keys`);
    bigKeys = { count: options.bigKeys, insertSeconds: await insertBigKeys(server, options.bigKeys) };
    progress(`${db}: inserted in ${bigKeys.insertSeconds.toFixed(1)} s`);
    try {
      for (const scenario of afterInsert) await precheck(server.baseUrl, scenario, secrets);
    } catch (error) {
      failures.push(`${db} ${error.message}`);
      return { runs, bigKeys };
    }
    for (let run = 1; run <= options.runs; run++) for (const scenario of afterInsert) await measureRun(scenario, run);
  }
  return { runs, bigKeys };
}

async function benchDatabase(db, options, failures) {
  progress(`${db}: starting the server`);
  const server = await startServer({ db, pgAdminUrl: options.pgAdminUrl, cpuProfileDir: options.cpuProfileDir });
  let measured;
  let dbVersion;
  let serverExit;
  try {
    dbVersion = await databaseVersion(server);
    measured = await measure(server, db, options, failures);
  } catch (error) {
    // Whatever went wrong, the server's own words are the first thing to read.
    const tail = server.output().trim().split('\n').slice(-20).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}${tail ? `\n  server output (last lines):\n${tail}` : ''}`);
  } finally {
    serverExit = await server.stop();
  }
  if (serverExit !== 0) progress(`${db}: warning: the server exited with ${serverExit} on SIGTERM`);

  const rows = SCENARIOS.filter((scenario) => measured.runs.has(scenario.name)).map((scenario) => summarize(scenario, measured.runs.get(scenario.name)));
  for (const row of rows) {
    if (row.errors > 0 || row.unexpected > 0) {
      const other = Object.entries(row.statuses).filter(([status]) => Number(status) !== row.expectedStatus).map(([status, count]) => `${status}: ${count}`);
      failures.push(`${db} ${row.name}: ${row.errors} errors, ${row.unexpected} unexpected statuses${other.length > 0 ? ` (${other.join(', ')})` : ''}; expected only ${row.expectedStatus}`);
    }
  }
  const targets = evaluate(rows, server.rss);
  return { db, dbVersion, rows, targets, bigKeys: measured.bigKeys, rss: server.rss, serverExit, serverLog: serverLog(server.output()) };
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
