// Issue 15: GET /metrics scraped during key-me-metrics, as Prometheus would (once per run, halfway through),
// to check it answers under load and that its request counter covers what the loader was answered.
import { performance } from 'node:perf_hooks';

/** `route="/me"`, `method="GET"`, `status_code="200"` in any order: the series key-me's requests land in. */
const ME_SERIES = /^skaledata_http_request_duration_seconds_count\{([^}]*)\} (\S+)$/gm;

function meCount(text) {
  let total = null;
  for (const [, labels, value] of text.matchAll(ME_SERIES)) {
    if (labels.includes('route="/me"') && labels.includes('method="GET"') && labels.includes('status_code="200"')) total = (total ?? 0) + Number(value);
  }
  return total;
}

/**
 * Scrapes every instance of a deployment (each exposes its own process's counters): the statuses, the
 * slowest scrape, the exposition's size, and GET /me's 200 count summed over the instances (null if absent).
 */
export async function scrapeDeployment(baseUrls, token) {
  const scrapes = await Promise.all(
    baseUrls.map(async (baseUrl) => {
      const started = performance.now();
      try {
        const response = await globalThis.fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
        const text = await response.text();
        return { status: response.status, ms: performance.now() - started, bytes: text.length, count: response.ok ? meCount(text) : null };
      } catch (error) {
        return { status: `error: ${error instanceof Error ? error.message : String(error)}`, ms: performance.now() - started, bytes: 0, count: null };
      }
    }),
  );
  const counts = scrapes.map((scrape) => scrape.count);
  return {
    ok: scrapes.every((scrape) => scrape.status === 200),
    statuses: scrapes.map((scrape) => scrape.status),
    ms: Math.round(Math.max(...scrapes.map((scrape) => scrape.ms)) * 10) / 10,
    bytes: Math.max(...scrapes.map((scrape) => scrape.bytes)),
    meCount: counts.includes(null) ? null : counts.reduce((sum, count) => sum + count, 0),
  };
}
