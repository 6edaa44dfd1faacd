// `npm run bench`: the benchmark suite of issue 4. Starts the real server per database (with --instances 2,
// two processes of one deployment on PostgreSQL; and a second deployment holding the big key set, for
// keys-1m), seeds them, measures every scenario (runs interleaved, so drift
// hits all scenarios alike), prints the table, and exits
// non-zero when the server does not start or any scenario sees errors or unexpected statuses. Missed
// performance targets are reported, never failed.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { processesCpuSeconds } from './cpu.mjs';
import { badChecksumKey, unknownKey } from './keys.mjs';
import { parseOptions, USAGE } from './options.mjs';
import { compareDatabases, evaluate, sectionName, instanceSplit, machine, renderComparison, renderDatabase, renderRuntimes, summarize, writeBenchmarksMd, writeJson } from './report.mjs';
import { pinningPlan } from './pinning.mjs';
import { precheck, runScenario, SCENARIOS } from './scenarios.mjs';
import { insertBigKeys, seedFixtures } from './seed.mjs';
import { scrapeDeployment } from './metrics-scrape.mjs';
import { prepareRuntime } from './runtime.mjs';
import { DEFAULT_RUNTIME, startDeployment } from './server.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const progress = (message) => console.error(`bench: ${message}`);
/** The metrics deployment's METRICS_TOKEN (key-me-metrics): one per invocation. */
const METRICS_TOKEN = randomBytes(24).toString('hex');

/** The generated keys must be judged by the server's own format check exactly as the scenarios assume. */
async function checkKeyFormat() {
  const { isWellFormedApiKey } = await import('../../dist/auth/api-key-format.js');
  for (let i = 0; i < 1000; i++) {
    if (!isWellFormedApiKey(unknownKey())) throw new Error('keys.mjs unknownKey() makes keys the server calls malformed: the key format changed');
    if (isWellFormedApiKey(badChecksumKey())) throw new Error('keys.mjs badChecksumKey() makes keys the server calls well-formed: the key format changed');
  }
}

async function databaseVersion(deployment) {
  if (deployment.database.kind === 'sqlite') {
    const db = new Database(':memory:');
    const { version } = db.prepare('select sqlite_version() as version').get();
    db.close();
    return `SQLite ${version}`;
  }
  const client = new pg.Client({ connectionString: deployment.database.url });
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
 * Waits until the deployment's servers have been idle (under 5% of a core together) for a second, at most
 * `maxMs`: after the big insert a server refills its filter of stored digests (known-digests.ts), which must
 * not land in a measured run.
 */
async function settle(deployment, maxMs = 60_000) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const before = processesCpuSeconds(deployment.pids);
    await sleep(1000);
    if (processesCpuSeconds(deployment.pids) - before < 0.05) return;
  }
  progress(`warning: the big-key deployment was still busy after ${maxMs / 1000} s; measuring anyway`);
}

/** With several instances, how the responses of `runs` split between them (and, asked, their statuses). */
function splitText(runs, withStatuses = false) {
  const split = instanceSplit(runs);
  if (split.length < 2) return '';
  const total = split.reduce((sum, instance) => sum + instance.responses, 0);
  const parts = split.map((instance, index) => {
    const share = total === 0 ? 0 : Math.round((instance.responses / total) * 100);
    const statuses = Object.entries(instance.statuses).map(([status, count]) => `${status}: ${count}`).join(', ');
    return `instance ${index + 1} ${share}%${withStatuses ? ` (${statuses})` : ''}`;
  });
  return `; responses by instance: ${parts.join(', ')}`;
}

/**
 * Every instance must answer the scenario's precheck, not just the one that was seeded: a key made
 * through instance 1 has to work on instance 2 (the product's promise; the bench only checks it).
 */
async function precheckEveryInstance(deployment, scenario, secrets) {
  for (const [index, baseUrl] of deployment.baseUrls.entries()) {
    try {
      await precheck(baseUrl, scenario, secrets);
    } catch (error) {
      if (deployment.baseUrls.length === 1) throw error;
      throw new Error(`${error.message} (on instance ${index + 1} of ${deployment.baseUrls.length}, ${baseUrl}; fixtures were seeded through instance 1)`, { cause: error });
    }
  }
}

/**
 * Seeds, checks and measures the selected scenarios on every set of deployments (one set per Node.js of
 * --node; usually one); returns each set's runs per scenario. keys-1m runs on a set's `big` deployment
 * (its table holds the big key set), in the same rounds as everything else; each round runs a scenario on
 * every set in turn, so what the machine's drift does to one Node it does to the other. Each deployment is
 * seeded through its first instance and loaded through all of them.
 */
async function measure(sets, db, options, failures) {
  const label = (set) => (sets.length > 1 ? `${db} (Node ${set.runtime.version})` : db);
  /** One load run of `scenario` against `target` (a deployment and its seeded secrets). */
  const load = ({ deployment, secrets }, scenario, durationSeconds, warmupSeconds) =>
    runScenario({
      baseUrls: deployment.baseUrls,
      serverPids: deployment.pids,
      pgDatabase: deployment.database.name ?? null,
      scenario,
      secrets,
      connections: options.connections,
      durationSeconds,
      warmupSeconds,
      cpus: options.pinning.loader,
    });

  const states = [];
  for (const set of sets) {
    const { deployments } = set;
    const state = { set, runs: new Map(), bigKeys: null, usable: [], meCounted: null };
    progress(`${label(set)}: seeding fixtures through the API`);
    const targets = { main: { deployment: deployments.main, secrets: await seedFixtures(deployments.main) } };
    if (deployments.big) {
      targets.big = { deployment: deployments.big, secrets: await seedFixtures(deployments.big) };
      progress(`${label(set)}: inserting ${options.bigKeys.toLocaleString('en-US')} keys for keys-1m`);
      state.bigKeys = { count: options.bigKeys, insertSeconds: await insertBigKeys(deployments.big, options.bigKeys) };
      progress(`${label(set)}: inserted in ${state.bigKeys.insertSeconds.toFixed(1)} s; waiting for that deployment to settle`);
      await settle(deployments.big);
    }
    if (deployments.metrics) targets.metrics = { deployment: deployments.metrics, secrets: await seedFixtures(deployments.metrics) };
    state.on = (scenario) => (scenario.bigServer ? targets.big : scenario.metricsServer ? targets.metrics : targets.main);

    for (const scenario of SCENARIOS.filter((s) => options.scenarios.includes(s.name))) {
      try {
        await precheckEveryInstance(state.on(scenario).deployment, scenario, state.on(scenario).secrets);
        state.usable.push(scenario);
      } catch (error) {
        failures.push(`${label(set)} ${error.message}`);
      }
    }

    for (const [name, target] of [['big-key', targets.big], ['metrics', targets.metrics]]) {
      if (!target) continue;
      // The same history as the main server before the rounds: V8 specializes (and, once a path has seen
      // many shapes, generalizes) code by what it has run, and /me on a server that never served anything
      // else is faster than /me on one that served every scenario. Unmeasured.
      progress(`${label(set)}: giving the ${name} deployment the main deployment's history (every scenario, unmeasured)`);
      for (const scenario of state.usable.filter((s) => !s.bigServer && !s.metricsServer)) {
        await load(target, scenario, Math.min(2, options.durationSeconds), 0);
      }
    }
    /** GET /me answered 200 by the metrics deployment so far, by its own counters (key-me-metrics checks them). */
    state.meCounted = targets.metrics ? (await scrapeDeployment(deployments.metrics.baseUrls, METRICS_TOKEN)).meCount : null;
    states.push(state);
  }

  const measureRun = async (state, scenario, run) => {
    const { deployment } = state.on(scenario);
    // key-me-metrics: one scrape halfway through the measured run, as Prometheus would every 15 s or so.
    const scraping = scenario.metricsServer
      ? sleep((options.warmupSeconds + options.durationSeconds / 2) * 1000).then(() => scrapeDeployment(deployment.baseUrls, METRICS_TOKEN))
      : null;
    const result = await load(state.on(scenario), scenario, options.durationSeconds, options.warmupSeconds);
    if (!deployment.alive()) throw new Error(`a server exited during ${scenario.name}`);
    const where = label(state.set);
    if (scraping) {
      result.scrape = await scraping;
      const after = await scrapeDeployment(deployment.baseUrls, METRICS_TOKEN);
      // Every response the loader got was counted by the servers first (they count when it has been sent).
      const counted = after.meCount === null || state.meCounted === null ? null : after.meCount - state.meCounted;
      result.scrape.countedResponses = counted;
      state.meCounted = after.meCount;
      if (!result.scrape.ok || !after.ok) failures.push(`${where} ${scenario.name}: GET /metrics answered ${[...result.scrape.statuses, ...after.statuses].join(', ')} during/after run ${run}`);
      else if (counted === null || counted < result.responses + result.warmupResponses) {
        failures.push(`${where} ${scenario.name}: /metrics counted ${counted} GET /me 200 in run ${run}, the loader received ${result.responses + result.warmupResponses}`);
      }
    }
    state.runs.set(scenario.name, [...(state.runs.get(scenario.name) ?? []), result]);
    progress(`${where} run ${run}/${options.runs} ${scenario.name}: ${Math.round(result.rps)} req/s, p99 ${result.latencyMs.p99} ms, ${result.errors} errors, ${result.unexpected} unexpected${result.serverCores === null ? '' : `, server ${result.serverCores.toFixed(2)} cores, ${result.serverUsPerResponse} µs CPU/response`}${result.otherCpuShare === null ? '' : `, other processes ${Math.round(result.otherCpuShare * 100)}% CPU`}${splitText([result])}${result.scrape ? `; /metrics mid-run: ${result.scrape.statuses.join(', ')} in ${result.scrape.ms} ms (${result.scrape.bytes} bytes), GET /me counted ${result.scrape.countedResponses}` : ''}`);
  };
  for (let run = 1; run <= options.runs; run++) {
    // With several Nodes, each goes first in turn (round 1: A B, round 2: B A, …), so whatever favours the
    // first or the second of a pair (caches, a burst from elsewhere) does not always fall on the same Node.
    const order = states.map((_, i) => states[(i + run - 1) % states.length]);
    for (const scenario of SCENARIOS) {
      for (const state of order) if (state.usable.includes(scenario)) await measureRun(state, scenario, run);
    }
  }
  return states.map((state) => ({ runs: state.runs, bigKeys: state.bigKeys }));
}

/** Every deployment of one database (one set per Node.js), measured together; one result per Node. */
async function benchDatabase(db, options, failures) {
  const started = [];
  // SQLite serves one process; options.mjs refuses --instances 2 without PostgreSQL.
  const instances = db === 'postgres' ? options.instances : 1;
  const several = options.runtimes.length > 1;
  const sets = options.runtimes.map((runtime) => ({ runtime, deployments: {} }));
  const wanted = (flag) => options.scenarios.some((name) => SCENARIOS.find((s) => s.name === name)?.[flag]);
  const start = async (set, role, env = {}) => {
    progress(`${db}: starting the ${role} deployment (${instances} server instance${instances === 1 ? '' : 's'}${several ? `, Node ${set.runtime.version}` : ''})`);
    const deployment = await startDeployment({ db, pgAdminUrl: options.pgAdminUrl, cpuProfileDir: options.cpuProfileDir, cpus: options.pinning.server, instances, env, runtime: set.runtime });
    started.push(deployment);
    return deployment;
  };
  let measured;
  let dbVersion;
  const exits = new Map();
  try {
    for (const set of sets) {
      set.deployments.main = await start(set, 'main');
      // As many instances as the main deployment, so keys-1m / key-me compares like with like.
      if (wanted('bigServer')) set.deployments.big = await start(set, 'big-key');
      if (wanted('metricsServer')) set.deployments.metrics = await start(set, 'metrics', { METRICS_TOKEN });
    }
    dbVersion = await databaseVersion(sets[0].deployments.main);
    measured = await measure(sets, db, options, failures);
  } catch (error) {
    // Whatever went wrong, the servers' own words are the first thing to read.
    const tail = started
      .flatMap((deployment) => deployment.instances)
      .map((instance) => instance.output().trim().split('\n').slice(-20).join('\n'))
      .filter(Boolean)
      .join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}${tail ? `\n  server output (last lines):\n${tail}` : ''}`, { cause: error });
  } finally {
    for (const deployment of started) exits.set(deployment, await deployment.stop());
  }

  return sets.map((set, index) => {
    const where = several ? `${db} (Node ${set.runtime.version})` : db;
    const deployments = Object.values(set.deployments);
    const serverExit = deployments.flatMap((deployment) => exits.get(deployment) ?? []).find((code) => code !== 0) ?? 0;
    if (serverExit !== 0) progress(`${where}: warning: a server exited with ${serverExit} on SIGTERM`);
    const { runs, bigKeys } = measured[index];
    const rows = SCENARIOS.filter((scenario) => runs.has(scenario.name)).map((scenario) => summarize(scenario, runs.get(scenario.name)));
    for (const row of rows) {
      if (row.errors > 0 || row.unexpected > 0) {
        const other = Object.entries(row.statuses).filter(([status]) => Number(status) !== row.expectedStatus).map(([status, count]) => `${status}: ${count}`);
        failures.push(`${where} ${row.name}: ${row.errors} errors, ${row.unexpected} unexpected statuses${other.length > 0 ? ` (${other.join(', ')})` : ''}; expected only ${row.expectedStatus}${splitText(row.runs, true)}`);
      }
    }
    // The budget holds for every server process, of every deployment: the largest peak of them all.
    const processes = deployments.flatMap((deployment) => deployment.instances);
    const hwms = processes.map((instance) => instance.rss.hwmKb).filter((kb) => kb !== null);
    const rss = { peakKb: Math.max(...processes.map((instance) => instance.rss.peakKb)), hwmKb: hwms.length > 0 ? Math.max(...hwms) : null, servers: processes.length };
    const targets = evaluate(rows, rss, db);
    const output = deployments.map((deployment) => deployment.output()).join('\n');
    return { db, dbVersion, instances, runtime: { node: set.runtime.node, version: set.runtime.version }, rows, targets, bigKeys, rss, serverExit, serverLog: serverLog(output) };
  });
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
  options.pinning = pinningPlan(options.pin);
  options.runtimes = [];
  try {
    for (const node of options.nodes) options.runtimes.push(await prepareRuntime(node, progress));
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
  // The table, the labels and the JSON files name a Node by its version: two of one version cannot be told apart.
  const versions = options.runtimes.map((runtime) => runtime.version);
  if (new Set(versions).size !== versions.length) {
    console.error(`bench: --node: each Node.js version once (got ${options.runtimes.map((runtime) => `${runtime.node} = ${runtime.version}`).join(', ')})`);
    process.exit(2);
  }
  if (options.runtimes.length === 0) options.runtimes.push(DEFAULT_RUNTIME);
  const several = options.runtimes.length > 1;

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
      results.push(...(await benchDatabase(db, options, failures)));
    } catch (error) {
      failures.push(`${db}: ${error instanceof Error ? error.message : String(error)}`);
      break;
    }
  }

  const sections = {};
  for (const result of results) {
    const text = renderDatabase(result, invocation);
    console.log(`\n${text}`);
    // With several Node.js, the page keeps their comparison (below), not tables of a mixed invocation.
    if (!several) sections[sectionName(result.db, result.instances ?? 1)] = text;
  }
  if (several) {
    for (const db of options.databases) {
      const ofDb = results.filter((result) => result.db === db);
      if (ofDb.length < 2) continue;
      const name = sectionName(`runtimes-${db}`, ofDb[0].instances ?? 1);
      sections[name] = renderRuntimes(ofDb, invocation);
      console.log(`\n${sections[name]}`);
    }
  }
  const comparison = several ? null : compareDatabases(results);
  if (comparison) {
    const name = sectionName('comparison', comparison[0].postgresInstances);
    sections[name] = renderComparison(comparison, invocation);
    console.log(`\n${sections[name]}`);
  }
  const complete = results.length === options.databases.length * options.runtimes.length;
  // BENCHMARKS.md keeps only whole, unprofiled runs; profiled runs and subsets still leave their JSON. A
  // comparison of Node.js versions is whole with any subset: it compares like with like.
  const pageWorthy = options.cpuProfileDir === null && (several || options.scenarios.length === SCENARIOS.length);
  if (!options.smoke && complete) {
    for (const result of results) progress(`wrote ${path.relative(ROOT, await writeJson(invocation, result, comparison, several))}`);
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
