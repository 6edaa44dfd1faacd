// Turns measured runs into the table, checks the targets (issues 4, 12 and 14), and writes the JSON result and BENCHMARKS.md.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const RESULTS_DIR = path.join(ROOT, 'bench/results');
const BENCHMARKS_MD = path.join(ROOT, 'BENCHMARKS.md');

/** Issue 4's targets: throughput as a share of another scenario measured in the same invocation. */
const SQLITE_TARGETS = {
  'key-me': { of: 'baseline', min: 0.75 },
  'key-scoped-list': { of: 'baseline', min: 0.5 },
  'key-forbidden': { of: 'baseline', min: 0.75 },
  'key-invalid': { of: 'baseline', min: 0.85 },
  'key-unknown': { of: 'baseline', min: 0.4 },
  'user-jwt': { of: 'baseline', min: 0.7 },
  'keys-1m': { of: 'key-me', min: 0.95 },
  // Issue 12's: a key carrying every restriction, and a key over its rate limit (answered 429).
  'key-restricted': { of: 'baseline', min: 0.7 },
  'key-rate-limited': { of: 'baseline', min: 0.8 },
};
/** PostgreSQL: issue 4's, with issue 14's where it asks more (the several-instance path at SQLite's speed). */
const POSTGRES_TARGETS = {
  ...SQLITE_TARGETS,
  'key-me': { of: 'baseline', min: 0.8 },
  'user-jwt': { of: 'baseline', min: 0.8 },
  'key-unknown': { of: 'baseline', min: 0.6 },
};
const THROUGHPUT_TARGETS = { sqlite: SQLITE_TARGETS, postgres: POSTGRES_TARGETS };
/** Issue 14: PostgreSQL's key-scoped-list ratio at least this share of SQLite's, in one `--db both` run. */
const SCOPED_LIST_VS_SQLITE_MIN = 0.8;
const P99_TARGET = { scenario: 'key-me', of: 'baseline', max: 2 };
/**
 * Issue 15: what Prometheus metrics cost key-me, as the drop of its ratio to baseline (both divided by the
 * main server's /healthz): key-me vs baseline − key-me-metrics vs baseline, at most this.
 */
const METRICS_TARGET = { scenario: 'key-me-metrics', of: 'key-me', maxDrop: 0.03 };
const RSS_BUDGET_MB = 300;
const POSTGRES_VS_SQLITE_MIN = 0.9;
/** Above this share of the machine taken by other processes during a run, its numbers are not comparable. */
const NOISY_SHARE = 0.1;
const DB_TITLES = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export function median(values) {
  const sorted = values.filter((value) => value !== null && Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One row per scenario: medians over the runs, errors and unexpected statuses summed over them. */
export function summarize(scenario, runs) {
  const statuses = {};
  for (const run of runs) for (const [status, count] of Object.entries(run.statuses)) statuses[status] = (statuses[status] ?? 0) + count;
  return {
    name: scenario.name,
    expectedStatus: scenario.expect,
    rps: median(runs.map((run) => run.rps)),
    p50Ms: median(runs.map((run) => run.latencyMs.p50)),
    p99Ms: median(runs.map((run) => run.latencyMs.p99)),
    serverUs: median(runs.map((run) => run.serverUsPerResponse ?? null)),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    unexpected: runs.reduce((sum, run) => sum + run.unexpected, 0),
    statuses,
    runs,
  };
}

/**
 * How the responses of `runs` split between the server instances that served them, in start order: one
 * entry per instance, with its responses and statuses summed over the runs. (Runs recorded before
 * --instances carry no split: then the list is empty.)
 */
export function instanceSplit(runs) {
  const byOrigin = new Map();
  for (const run of runs) {
    for (const [origin, { responses, statuses }] of Object.entries(run.byInstance ?? {})) {
      const entry = byOrigin.get(origin) ?? { origin, responses: 0, statuses: {} };
      entry.responses += responses;
      for (const [status, count] of Object.entries(statuses)) entry.statuses[status] = (entry.statuses[status] ?? 0) + count;
      byOrigin.set(origin, entry);
    }
  }
  return [...byOrigin.values()];
}

/**
 * The metrics target's drop, round by round: in each round key-me, key-me-metrics and baseline ran one after
 * the other, so each round gives one drop (key-me / baseline − key-me-metrics / baseline, all of that round),
 * and the figure is their median. Differencing the medians of each scenario instead mixes rounds: one slow
 * round of key-me-metrics beside a fast one of key-me (the machine's speed swings by 2× within minutes)
 * then reads as the cost of metrics (issue 15's first --db both run: 0.152 that way, 0.014 paired).
 */
export function pairedDrop(baselineRuns, withoutRuns, withRuns) {
  if (!baselineRuns || !withoutRuns || !withRuns) return null;
  const rounds = Math.min(baselineRuns.length, withoutRuns.length, withRuns.length);
  const drops = [];
  for (let i = 0; i < rounds; i++) {
    const base = baselineRuns[i].rps;
    if (base > 0) drops.push(withoutRuns[i].rps / base - withRuns[i].rps / base);
  }
  return round(median(drops), 3);
}

const round = (value, digits) => (value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits);

/** Ratios to baseline and the met/missed verdicts for one database's rows. */
export function evaluate(rows, rss, db) {
  const byName = Object.fromEntries(rows.map((row) => [row.name, row]));
  const baseline = byName.baseline?.rps ?? null;
  for (const row of rows) row.vsBaseline = baseline ? round(row.rps / baseline, 3) : null;

  const targets = [];
  for (const row of rows) {
    const target = THROUGHPUT_TARGETS[db][row.name];
    if (!target) continue;
    const reference = byName[target.of]?.rps ?? null;
    const value = reference ? round(row.rps / reference, 3) : null;
    targets.push({ id: row.name, scenario: row.name, measure: `${row.name} / ${target.of} req/s`, goal: `≥ ${target.min.toFixed(2)}`, value, met: value === null ? null : value >= target.min, gap: value === null ? null : round(target.min - value, 3) });
  }
  const withMetrics = byName[METRICS_TARGET.scenario] ?? null;
  if (withMetrics) {
    const without = byName[METRICS_TARGET.of] ?? null;
    const drop = pairedDrop(byName.baseline?.runs, without?.runs, withMetrics.runs);
    const ratio = without?.rps ? round(withMetrics.rps / without.rps, 3) : null;
    targets.push({
      id: METRICS_TARGET.scenario,
      scenario: METRICS_TARGET.scenario,
      kind: 'drop',
      measure: `${METRICS_TARGET.of} vs baseline − ${METRICS_TARGET.scenario} vs baseline`,
      goal: `drop ≤ ${METRICS_TARGET.maxDrop.toFixed(2)}`,
      value: drop,
      ratio,
      met: drop === null ? null : drop <= METRICS_TARGET.maxDrop,
      gap: drop === null ? null : round(drop - METRICS_TARGET.maxDrop, 3),
    });
  }
  const p99 = byName[P99_TARGET.scenario]?.p99Ms ?? null;
  const p99Reference = byName[P99_TARGET.of]?.p99Ms ?? null;
  const p99Ratio = p99 !== null && p99Reference ? round(p99 / p99Reference, 2) : null;
  targets.push({ id: 'p99', scenario: null, measure: `p99 ${P99_TARGET.scenario} / p99 ${P99_TARGET.of}`, goal: `≤ ${P99_TARGET.max}`, value: p99Ratio, met: p99Ratio === null ? null : p99Ratio <= P99_TARGET.max, gap: p99Ratio === null ? null : round(p99Ratio - P99_TARGET.max, 2) });
  const peakMb = round(Math.max(rss.peakKb, rss.hwmKb ?? 0) / 1024, 1);
  targets.push({ id: 'rss', scenario: null, measure: 'server peak RSS (MB)', goal: `≤ ${RSS_BUDGET_MB}`, value: peakMb, met: peakMb <= RSS_BUDGET_MB, gap: round(peakMb - RSS_BUDGET_MB, 1) });
  return targets;
}

/**
 * PostgreSQL against SQLite in one `--db both` run: key-me's req/s (issue 4), and key-scoped-list's ratio
 * to its own database's baseline (issue 14: the kept pages must work as well on PostgreSQL).
 */
export function compareDatabases(results) {
  const sqlite = results.find((result) => result.db === 'sqlite');
  const postgres = results.find((result) => result.db === 'postgres');
  if (!sqlite || !postgres) return null;
  const postgresInstances = postgres.instances ?? 1;
  /** PostgreSQL's `field` of `scenario` over SQLite's, against `min`; null when either is missing. */
  const compare = (measure, scenario, field, min) => {
    const sqliteValue = sqlite.rows.find((row) => row.name === scenario)?.[field];
    const postgresValue = postgres.rows.find((row) => row.name === scenario)?.[field];
    if (!sqliteValue || !postgresValue) return null;
    const value = round(postgresValue / sqliteValue, 3);
    return { measure, postgresInstances, sqliteValue, postgresValue, integers: field === 'rps', goal: `≥ ${min.toFixed(2)}`, value, met: value >= min, gap: round(min - value, 3) };
  };
  const comparisons = [
    compare('PostgreSQL key-me / SQLite key-me req/s', 'key-me', 'rps', POSTGRES_VS_SQLITE_MIN),
    compare('key-scoped-list vs baseline, PostgreSQL / SQLite', 'key-scoped-list', 'vsBaseline', SCOPED_LIST_VS_SQLITE_MIN),
  ].filter((comparison) => comparison !== null);
  return comparisons.length > 0 ? comparisons : null;
}

const readableDate = (iso) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
const int = (value) => (value === null ? '–' : Math.round(value).toLocaleString('en-US'));
const fixed = (value, digits) => (value === null || value === undefined ? '–' : value.toFixed(digits));
const verdict = (target) => {
  if (target.met === null) return 'n/a';
  if (target.met) return 'met';
  return target.id === 'rss' ? `missed: ${Math.abs(target.gap).toFixed(1)} MB over` : `missed by ${Math.abs(target.gap).toFixed(2)}`;
};

export function machine() {
  const cpus = os.cpus();
  const models = [...new Set(cpus.map((cpu) => cpu.model.trim()))];
  return { cores: cpus.length, cpuModel: models.join(', '), node: process.version, os: `${os.type()} ${os.release()} ${os.arch()}`, memoryGb: round(os.totalmem() / 1024 ** 3, 1) };
}

/** The markdown for one database: a context line, the table, the non-throughput targets. */
export function renderDatabase(result, invocation) {
  const { options } = invocation;
  const m = invocation.machine;
  const several = (options.runtimes?.length ?? 1) > 1;
  const node = result.runtime?.version ?? m.node;
  const lines = [
    `## ${DB_TITLES[result.db]}${(result.instances ?? 1) > 1 ? `, ${result.instances} instances` : ''}${several ? ` on Node ${node}` : ''}`,
    '',
    `${readableDate(invocation.date)} · \`${invocation.command}\` · ${m.cores} × ${m.cpuModel} · Node ${node} · ${result.dbVersion} · ` +
      `${instancesText(result.instances)} · ${options.connections} connections · ${options.durationSeconds} s × ${options.runs} run${options.runs === 1 ? '' : 's'} (median)` +
      `${options.warmupSeconds > 0 ? `, ${options.warmupSeconds} s warm-up each` : ''}` +
      `${result.bigKeys ? ` · keys-1m with ${result.bigKeys.count.toLocaleString('en-US')} keys in the table` : ''}`,
    '',
    '| scenario | req/s | p50 ms | p99 ms | server CPU µs/resp | errors | unexpected | vs baseline | target | result |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---|',
  ];
  for (const row of result.rows) {
    const target = result.targets.find((t) => t.scenario === row.name);
    if (target?.kind === 'drop') {
      const outcome = `${verdict(target)} (drop ${fixed(target.value, 3)}; ${fixed(target.ratio, 3)} × ${METRICS_TARGET.of})`;
      lines.push(`| ${row.name} | ${int(row.rps)} | ${fixed(row.p50Ms, 2)} | ${fixed(row.p99Ms, 2)} | ${fixed(row.serverUs, 1)} | ${row.errors} | ${row.unexpected} | ${fixed(row.vsBaseline, 2)} | ${target.goal} vs ${METRICS_TARGET.of} | ${outcome} |`);
      continue;
    }
    const of = target ? THROUGHPUT_TARGETS[result.db][row.name].of : null;
    const goal = !target ? '' : of === 'baseline' ? target.goal : `${target.goal} × ${of}`;
    const outcome = !target ? '' : of === 'baseline' ? verdict(target) : `${verdict(target)} (${fixed(target.value, 2)} × ${of})`;
    lines.push(`| ${row.name} | ${int(row.rps)} | ${fixed(row.p50Ms, 2)} | ${fixed(row.p99Ms, 2)} | ${fixed(row.serverUs, 1)} | ${row.errors} | ${row.unexpected} | ${fixed(row.vsBaseline, 2)} | ${goal} | ${outcome} |`);
  }
  lines.push('');
  const p99 = result.targets.find((t) => t.id === 'p99');
  lines.push(`- p99 ${P99_TARGET.scenario} / p99 ${P99_TARGET.of}: ${fixed(p99.value, 2)}, target ${p99.goal}: ${verdict(p99)}`);
  const rss = result.targets.find((t) => t.id === 'rss');
  lines.push(
    `- server peak RSS: ${fixed(rss.value, 1)} MB, budget ${RSS_BUDGET_MB} MB: ${verdict(rss)} ` +
      `(the larger of VmRSS sampled every 200 ms, ${fixed(result.rss.peakKb / 1024, 1)} MB, and the kernel's high-water mark, ${result.rss.hwmKb === null ? 'n/a' : `${fixed(result.rss.hwmKb / 1024, 1)} MB`}` +
      `${result.rss.servers > 1 ? `; each figure is the largest of the ${result.rss.servers} server processes'` : ''})`,
  );
  const shares = result.rows.flatMap((row) => row.runs.map((run) => run.otherCpuShare)).filter((share) => share !== null);
  if (options.pinning) lines.push(`- processes: ${options.pinning.note}`);
  if (shares.length > 0) {
    const worst = Math.max(...shares);
    lines.push(
      `- CPU taken by other processes (or the hypervisor) during the runs: median ${Math.round(median(shares) * 100)}%, max ${Math.round(worst * 100)}% of the machine` +
        (worst > NOISY_SHARE ? ' — **disturbed: re-run on an idle machine before comparing**' : ''),
    );
  }
  if ((result.instances ?? 1) > 1) lines.push(instancesNote(result));
  if (result.bigKeys) {
    lines.push(
      `- keys-1m runs on a second ${(result.instances ?? 1) > 1 ? `deployment of ${result.instances} instances` : 'server'}, started and seeded like the first, whose table also holds ${result.bigKeys.count.toLocaleString('en-US')} keys ` +
        `(inserted in ${fixed(result.bigKeys.insertSeconds, 1)} s before any run); it is measured in the same rounds as the other scenarios, so the machine's drift hits both alike`,
    );
  }
  const metricsRow = result.rows.find((row) => row.name === METRICS_TARGET.scenario);
  if (metricsRow) {
    const scrapes = metricsRow.runs.map((run) => run.scrape).filter(Boolean);
    lines.push(
      `- ${METRICS_TARGET.scenario} runs on a third ${(result.instances ?? 1) > 1 ? `deployment of ${result.instances} instances` : 'server'}, started like the first but with METRICS_TOKEN set (every request feeds the Prometheus metrics), measured in the same rounds; ` +
        `its target is the drop of key-me's ratio to baseline, taken in each round (the three ran one after another) and then the median of the rounds' drops. GET /metrics was scraped halfway through each run: ${scrapes.map((scrape) => `${scrape.statuses.join('/')} in ${scrape.ms} ms, ${scrape.bytes} bytes`).join('; ') || 'no scrape recorded'}` +
        `${(result.instances ?? 1) > 1 ? ' (each instance scraped: each exposes its own counters)' : ''}`,
    );
  }
  if (result.serverLog.count > 0) lines.push(`- server log at warn level or above: ${result.serverLog.count} line(s), first: \`${result.serverLog.first[0].slice(0, 200)}\``);
  return lines.join('\n');
}

/** Who served a database's table: one server process, or several of one deployment. */
function instancesText(instances = 1) {
  return instances === 1 ? '1 server instance' : `${instances} server instances of one deployment, round-robin`;
}

/** What "served by several instances" means for every figure of the table, and how the load really split. */
function instancesNote(result) {
  const split = instanceSplit(result.rows.filter((row) => row.name !== 'keys-1m').flatMap((row) => row.runs));
  const total = split.reduce((sum, instance) => sum + instance.responses, 0);
  const shares = split.map((instance) => `${total === 0 ? 0 : Math.round((instance.responses / total) * 100)}%`).join(' / ');
  return (
    `- served by ${result.instances} server processes of one deployment (one database, the same pepper, encryption key, Clerk key and Redis prefix), ` +
    `seeded through the first; autocannon gives connection i to instance i mod ${result.instances}, and the responses split ${shares} (every scenario and run but keys-1m). ` +
    'req/s and the percentiles are the whole deployment\'s (one histogram), CPU µs/resp counts every instance and its PostgreSQL backends, ' +
    'and "vs baseline" divides by /healthz served round-robin by the same instances'
  );
}

export function renderComparison(comparisons, invocation) {
  const shown = (comparison, value) => (comparison.integers ? int(value) : fixed(value, 2));
  return [
    `## PostgreSQL${(comparisons[0]?.postgresInstances ?? 1) > 1 ? ` (${comparisons[0].postgresInstances} instances)` : ''} vs SQLite`,
    '',
    `${readableDate(invocation.date)} · \`${invocation.command}\``,
    '',
    ...comparisons.map(
      (comparison) =>
        `- ${comparison.measure}${(comparison.postgresInstances ?? 1) > 1 ? ` (PostgreSQL served by ${comparison.postgresInstances} instances, SQLite by 1)` : ''}: ` +
        `${shown(comparison, comparison.postgresValue)} / ${shown(comparison, comparison.sqliteValue)} = ${fixed(comparison.value, 2)}, target ${comparison.goal}: ${verdict(comparison)}`,
    ),
  ].join('\n');
}

/**
 * The median over rounds of `b`'s req/s over `a`'s in the same round: in each round a scenario runs on
 * every Node one after the other, so each round gives one ratio the machine's drift hits alike.
 */
export function pairedRatio(runsA, runsB) {
  if (!runsA || !runsB) return null;
  const ratios = [];
  for (let i = 0; i < Math.min(runsA.length, runsB.length); i++) if (runsA[i].rps > 0) ratios.push(runsB[i].rps / runsA[i].rps);
  return round(median(ratios), 3);
}

/**
 * One database's scenarios on several Node.js (`--node` twice or more): each Node's req/s, CPU per response
 * and ratio to its own baseline, and each Node's req/s over the first's, paired by round.
 */
export function renderRuntimes(results, invocation) {
  const { options } = invocation;
  const m = invocation.machine;
  const [reference, ...others] = results;
  const versions = results.map((result) => result.runtime.version);
  const lines = [
    `## Node.js versions on ${DB_TITLES[reference.db]}${(reference.instances ?? 1) > 1 ? `, ${reference.instances} instances` : ''}`,
    '',
    `${readableDate(invocation.date)} · \`${invocation.command}\` · ${m.cores} × ${m.cpuModel} · ${reference.dbVersion} · ${instancesText(reference.instances)} · ` +
      `${options.connections} connections · ${options.durationSeconds} s × ${options.runs} run${options.runs === 1 ? '' : 's'} (median)${options.warmupSeconds > 0 ? `, ${options.warmupSeconds} s warm-up each` : ''}`,
    '',
    `| scenario | ${versions.map((v) => `${v} req/s | ${v} CPU µs/resp | ${v} vs baseline`).join(' | ')} | ${others.map((o) => `${o.runtime.version} / ${reference.runtime.version} req/s`).join(' | ')} |`,
    `|---|${versions.map(() => '---:|---:|---:').join('|')}|${others.map(() => '---:').join('|')}|`,
  ];
  for (const row of reference.rows) {
    const rowsOf = results.map((result) => result.rows.find((candidate) => candidate.name === row.name) ?? null);
    // vs baseline paired by round, like the last columns: this machine's speed swings by 2× within minutes,
    // and a median of key-me over a median of baseline can then pair a fast minute with a slow one.
    const baselineOf = results.map((result) => result.rows.find((candidate) => candidate.name === 'baseline') ?? null);
    const cells = rowsOf.map((r, i) => (r === null ? '– | – | –' : `${int(r.rps)} | ${fixed(r.serverUs, 1)} | ${fixed(pairedRatio(baselineOf[i]?.runs, r.runs), 2)}`));
    const ratios = others.map((other, i) => fixed(pairedRatio(row.runs, rowsOf[i + 1]?.runs), 2));
    lines.push(`| ${row.name} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  lines.push('');
  lines.push(
    `- every scenario ran on each Node one after the other in every round, each Node first in turn (a deployment of its own per Node, same settings and fixtures); ` +
      `"vs baseline" (the scenario's req/s over that Node's /healthz in the same round) and "${others.map((o) => o.runtime.version).join(', ')} / ${reference.runtime.version}" are medians of the rounds' ratios; req/s and CPU are medians of the runs`,
  );
  const errors = results.reduce((sum, result) => sum + result.rows.reduce((n, r) => n + r.errors + r.unexpected, 0), 0);
  lines.push(`- errors and unexpected statuses, all Nodes: ${errors}`);
  for (const result of results) lines.push(`- Node ${result.runtime.version}: ${result.runtime.node}; server peak RSS ${fixed(Math.max(result.rss.peakKb, result.rss.hwmKb ?? 0) / 1024, 1)} MB`);
  if (options.pinning) lines.push(`- processes: ${options.pinning.note}`);
  return lines.join('\n');
}

function stamp(date) {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
}

export async function writeJson(invocation, result, comparison, perRuntime = false) {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${stamp(new Date(invocation.date))}-${result.db}${perRuntime ? `-node${result.runtime.version}` : ''}.json`);
  const { options, ...rest } = invocation;
  await writeFile(file, `${JSON.stringify({ ...rest, options, result, comparison: result.db === 'postgres' ? comparison : undefined }, null, 2)}\n`);
  return file;
}

const HEADER = `# Benchmarks

\`npm run bench\` builds the server, starts it as a real process in production mode with its own scratch
database, seeds it (keys, a cloud and 20 clusters through the HTTP API), and drives it with \`autocannon\`
from a separate process on 127.0.0.1 (by default the servers on CPU 0 and the load generator on CPU 1, so
runs do not depend on where the scheduler puts them: \`--pin off\` to leave them free). keys-1m runs on a
second server, seeded the same way, whose table also holds the big key set (direct inserts, before any run). Runs go round every scenario in turn; each
scenario's req/s, p50 and p99 are the median of its runs; "vs baseline" is the share of \`GET /healthz\`
measured in the same invocation, served by the same instances. With \`--instances 2\` (PostgreSQL only)
two server processes share one database, pepper, encryption key and Redis prefix, and the load is split
evenly between them; each section says how many instances served it. Targets are issue 4's and 12's,
with issue 14's on PostgreSQL (key-me and user-jwt ≥ 0.80, key-unknown ≥ 0.60, key-scoped-list's ratio ≥
0.80 × SQLite's), and issue 15's: key-me-metrics, key-me on a third server started with \`METRICS_TOKEN\`
(measured in the same rounds, \`/metrics\` scraped once per run), drops key-me's ratio by at most 0.03 (the
median of the rounds' drops, each round's three runs taken together); a
missed target is reported, not failed (the run fails only on errors, unexpected statuses or a failed scrape). Every full run rewrites its database's section below; \`--smoke\` writes nothing.
With \`--node\` given twice or more, every Node.js gets deployments of its own, each scenario runs on each Node
one after the other in every round (each first in turn), and the "Node.js versions" section of that database is rewritten instead
(any subset of scenarios; the per-database sections stay as they were).
Results as JSON: \`bench/results/\` (not committed).

\`\`\`sh
npm run bench                      # SQLite, 10 s × 3 runs, 50 connections, 1,000,000 keys for keys-1m
npm run bench -- --db both         # SQLite, then PostgreSQL on 127.0.0.1:5432, and the comparison
npm run bench -- --db postgres --instances 2   # PostgreSQL served by two server processes of one deployment
npm run bench -- --smoke           # the CI check: every scenario once for 2 s
npm run bench -- --scenarios baseline,key-me --node /usr/bin/node --node "$(scripts/node-binary.sh 24.22.3)/bin/node"
                                   # the same scenarios on two Node.js, in the same rounds, compared
npm run bench -- --help            # every option
\`\`\``;

const SECTION_ORDER = ['sqlite', 'postgres', 'comparison', 'postgres-instances', 'comparison-instances', 'runtimes-sqlite', 'runtimes-postgres', 'runtimes-postgres-instances'];

/**
 * Where a result goes in BENCHMARKS.md: a run on several instances has sections of its own, so it never
 * replaces the one-instance run the targets are judged on (and the other way round).
 */
export const sectionName = (name, instances) => (instances > 1 ? `${name}-instances` : name);
const section = (name, body) => `<!-- bench:${name} -->\n${body}\n<!-- /bench:${name} -->`;

/** Rewrites BENCHMARKS.md: this invocation's sections replace theirs; other databases' latest sections stay. */
export async function writeBenchmarksMd(sections) {
  const previous = existsSync(BENCHMARKS_MD) ? readFileSync(BENCHMARKS_MD, 'utf8') : '';
  const parts = [HEADER];
  for (const name of SECTION_ORDER) {
    if (sections[name]) {
      parts.push(section(name, sections[name]));
      continue;
    }
    const kept = new RegExp(`<!-- bench:${name} -->\\n[\\s\\S]*?\\n<!-- /bench:${name} -->`).exec(previous);
    if (kept) parts.push(kept[0]);
  }
  await writeFile(BENCHMARKS_MD, `${parts.join('\n\n')}\n`);
  return BENCHMARKS_MD;
}
