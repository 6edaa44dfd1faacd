// The load generator: one autocannon run in its own process (runner.mjs spawns it), so the benchmark's
// own bookkeeping never competes with the client for the event loop. Takes a JSON spec as its only
// argument and prints one JSON result line on stdout.
//
// Latency is recorded here at 10 µs resolution from autocannon's per-response event: autocannon's own
// histogram keeps whole milliseconds, too coarse for "p99 of key-me ≤ 2× p99 of baseline" on loopback.
//
// Several server instances (`spec.urls`) are driven by this one autocannon run: given an array of URLs,
// autocannon opens connection i to urls[i % n] (node_modules/autocannon/lib/run.js, initialiseClients), so
// the connections split evenly and every latency lands in one histogram: the percentiles are those of the
// whole deployment, not a merge of per-instance figures. Responses and statuses are also counted per
// instance, so a split that went wrong (or an instance that answers differently) shows.
import autocannon from 'autocannon';
import { badChecksumKey, unknownKey } from './keys.mjs';

const BUCKET_MS = 0.01;
const BUCKETS = 1_000_000; // 10 s; slower responses land in the last bucket

const spec = JSON.parse(process.argv[2] ?? '{}');

function options(durationSeconds) {
  const base = {
    url: spec.urls.length === 1 ? spec.urls[0] : spec.urls,
    connections: spec.connections,
    duration: durationSeconds,
    headers: spec.headers ?? {},
  };
  const makeKey = spec.keys === 'bad-checksum' ? badChecksumKey : spec.keys === 'unknown' ? unknownKey : null;
  if (makeKey === null) return base;
  // A fresh key on every request, so no cache of the server's can answer from an earlier one.
  return {
    ...base,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${makeKey()}` } }) }],
  };
}

function percentile(histogram, total, p) {
  if (total === 0) return null;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= rank) return Math.round((i + 1) * BUCKET_MS * 100) / 100;
  }
  return null;
}

async function main() {
  // Counted too: the server's CPU time is measured over the whole of this process's life, warm-up included.
  let warmupResponses = 0;
  if (spec.warmupSeconds > 0) warmupResponses = (await autocannon(options(spec.warmupSeconds))).requests.total;

  const histogram = new Uint32Array(BUCKETS);
  let responses = 0;
  let latencySum = 0;
  let latencyMax = 0;
  /** Per target origin (one per server instance): responses and their statuses. */
  const byInstance = Object.fromEntries(spec.urls.map((url) => [new URL(url).origin, { responses: 0, statuses: {} }]));
  const instance = autocannon(options(spec.durationSeconds));
  instance.on('response', (client, statusCode, _bytes, responseTimeMs) => {
    const target = byInstance[client.opts.origin];
    target.responses++;
    target.statuses[statusCode] = (target.statuses[statusCode] ?? 0) + 1;
    histogram[Math.min(BUCKETS - 1, Math.floor(responseTimeMs / BUCKET_MS))]++;
    responses++;
    latencySum += responseTimeMs;
    if (responseTimeMs > latencyMax) latencyMax = responseTimeMs;
  });
  const result = await instance;

  const statuses = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats ?? {})) statuses[status] = count;
  const answered = Object.values(statuses).reduce((sum, count) => sum + count, 0);
  process.stdout.write(
    `${JSON.stringify({
      durationSeconds: result.duration,
      responses: answered,
      warmupResponses,
      rps: result.duration > 0 ? answered / result.duration : 0,
      statuses,
      byInstance,
      errors: result.errors,
      timeouts: result.timeouts,
      latencyMs: {
        mean: responses > 0 ? Math.round((latencySum / responses) * 1000) / 1000 : null,
        p50: percentile(histogram, responses, 50),
        p90: percentile(histogram, responses, 90),
        p99: percentile(histogram, responses, 99),
        p999: percentile(histogram, responses, 99.9),
        max: Math.round(latencyMax * 100) / 100,
      },
      // The whole process, start-up and warm-up included: cpu.mjs subtracts it from the machine's busy time.
      loaderCpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      autocannon: { requestsAverage: result.requests.average, latencyP50: result.latency.p50, latencyP99: result.latency.p99 },
    })}\n`,
  );
}

main().catch((error) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
