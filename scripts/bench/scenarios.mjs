// The scenarios of issue 4, what each one expects, and how one run of one scenario is driven.
import { onCpus } from './pinning.mjs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { startCpuWindow } from './cpu.mjs';
import { badChecksumKey, unknownKey } from './keys.mjs';
import { SCOPED_LIST_CLUSTERS } from './seed.mjs';

const LOADER = path.join(import.meta.dirname, 'load.mjs');
/** Beyond warm-up + duration, what a loader may take to start and report before it is killed. */
const LOADER_GRACE_MS = 30_000;

/**
 * `credential` names a seeded secret; `keys` asks the loader for a fresh generated key per request.
 * `check` looks at one response body before the load, so a scenario cannot measure the wrong path.
 */
export const SCENARIOS = [
  { name: 'baseline', path: '/healthz', expect: 200, check: (body) => body?.status === 'ok' },
  { name: 'key-me', path: '/me', credential: 'fullKey', expect: 200, check: (body) => body?.type === 'api_key' && body.api_key.scopes.includes('full') },
  { name: 'key-scoped-list', path: '/clusters', credential: 'clustersReadKey', expect: 200, check: (body) => body?.data?.length === SCOPED_LIST_CLUSTERS },
  { name: 'key-forbidden', path: '/clusters', credential: 'appsReadKey', expect: 403 },
  { name: 'key-invalid', path: '/me', keys: 'bad-checksum', expect: 401 },
  { name: 'key-unknown', path: '/me', keys: 'unknown', expect: 401 },
  // Issue 13: a canary key must cost what an unknown key costs (no timing an outsider could measure).
  // key-unknown sends a new key each time; key-unknown-repeated one unknown key again and again, which is
  // what key-canary sends too (one key, cached after its first use): compare those two.
  { name: 'key-unknown-repeated', path: '/me', credential: 'repeatedUnknownKey', expect: 401, check: (body) => body?.code === 'invalid_token' },
  { name: 'key-canary', path: '/me', credential: 'canaryKey', expect: 401, check: (body) => body?.code === 'invalid_token' },
  // Issue 12: a key with every restriction a key can carry (seed.mjs KEY_RESTRICTIONS: 10 CIDRs that
  // hold 127.0.0.1, a rate limit far above the load), and a key over its rate limit, answered 429 (its
  // counter lives in Redis with --db postgres, in the server otherwise).
  // On /me, like key-me, so its ratio measures what the restrictions cost (lists are key-scoped-list's).
  { name: 'key-restricted', path: '/me', credential: 'restrictedKey', expect: 200, check: (body) => body?.type === 'api_key' },
  { name: 'key-rate-limited', path: '/clusters', credential: 'rateLimitedKey', expect: 429, check: (body) => body?.code === 'rate_limited' },
  { name: 'user-jwt', path: '/me', credential: 'sessionToken', expect: 200, check: (body) => body?.type === 'user' },
  // key-me against a second server whose table holds the big key set (main.mjs), measured in the same
  // rounds as the rest: the machine's speed drifts by up to 2× within minutes, so keys-1m and key-me
  // are only comparable when measured side by side.
  { name: 'keys-1m', path: '/me', credential: 'fullKey', expect: 200, check: (body) => body?.type === 'api_key', bigServer: true },
  // Issue 15: key-me against a third server started with METRICS_TOKEN (every request then feeds the
  // Prometheus metrics), in the same rounds, so what metrics cost is key-me's ratio minus this one's.
  // Each run also scrapes GET /metrics once, halfway through (main.mjs).
  { name: 'key-me-metrics', path: '/me', credential: 'fullKey', expect: 200, check: (body) => body?.type === 'api_key', metricsServer: true },
];
export const SCENARIO_NAMES = SCENARIOS.map((scenario) => scenario.name);

function authorization(scenario, secrets) {
  if (scenario.credential) return `Bearer ${secrets[scenario.credential]}`;
  if (scenario.keys === 'bad-checksum') return `Bearer ${badChecksumKey()}`;
  if (scenario.keys === 'unknown') return `Bearer ${unknownKey()}`;
  return null;
}

/** One request before the load: the expected status and body, or an error saying what came instead. */
export async function precheck(baseUrl, scenario, secrets) {
  const auth = authorization(scenario, secrets);
  const response = await globalThis.fetch(`${baseUrl}${scenario.path}`, { headers: auth === null ? {} : { authorization: auth } });
  const text = await response.text();
  if (response.status !== scenario.expect) {
    throw new Error(`${scenario.name}: GET ${scenario.path} answered ${response.status}, expected ${scenario.expect}: ${text.slice(0, 300)}`);
  }
  if (scenario.check && !scenario.check(JSON.parse(text))) {
    throw new Error(`${scenario.name}: GET ${scenario.path} answered an unexpected body: ${text.slice(0, 300)}`);
  }
}

/**
 * Runs load.mjs in its own process for one measured run, against every instance of one deployment
 * (`baseUrls`, connections split evenly); killed if it overruns. Server CPU counts all `serverPids`.
 */
export async function runScenario({ baseUrls, serverPids, pgDatabase, scenario, secrets, connections, durationSeconds, warmupSeconds, cpus = null }) {
  const spec = {
    urls: baseUrls.map((baseUrl) => `${baseUrl}${scenario.path}`),
    connections,
    durationSeconds,
    warmupSeconds,
    headers: scenario.credential ? { authorization: `Bearer ${secrets[scenario.credential]}` } : {},
    keys: scenario.keys ?? null,
  };
  const cpu = startCpuWindow(serverPids, pgDatabase);
  const { command, args } = onCpus(cpus, process.execPath, [LOADER, JSON.stringify(spec)]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk) => (stderr += chunk.toString()));
  const limitMs = (durationSeconds + warmupSeconds) * 1000 + LOADER_GRACE_MS;
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const code = await new Promise((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? signal)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${scenario.name}: the load generator ended with ${code}${code === 'SIGKILL' ? ` (over ${limitMs / 1000} s)` : ''}: ${stderr.trim()}`);
  const result = JSON.parse(stdout);
  let unexpected = 0;
  for (const [status, count] of Object.entries(result.statuses)) if (Number(status) !== scenario.expect) unexpected += count;
  const shares = cpu.end(result.loaderCpuSeconds);
  const served = result.responses + result.warmupResponses;
  // CPU time the server processes (and their PostgreSQL backends) spent per response: unlike req/s, it does not move
  // when the loader or another process slows down, so it is the number to compare changes by.
  const serverUsPerResponse = shares.serverSeconds === null || served === 0 ? null : Math.round((shares.serverSeconds * 1e6) / served * 10) / 10;
  return { ...result, unexpected, otherCpuShare: shares.other, serverCores: shares.server, serverUsPerResponse };
}
