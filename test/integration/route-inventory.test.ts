import { afterAll, beforeAll, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => h.close());
it('explore', async () => {
  console.log(h.app.printRoutes({ commonPrefix: false }));
  const doc = (await h.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
  for (const [p, ops] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(ops as Record<string, Record<string, unknown>>)) console.log(m, p, JSON.stringify(op.security), op["x-required-scope"], op["x-auth"]);
  console.log(Object.keys(doc.paths));
  for (const [m, u] of [['PUT', '/clusters'], ['GET', '/admin'], ['GET', '/clusters/'], ['GET', '//clusters'], ['GET', '/Clusters'], ['GET', '/clusters%2Fcls_0000000000000000000000000'], ['GET', '/%63lusters'], ['HEAD', '/clusters'], ['GET', '/docs'], ['GET', '/docs/json'], ['OPTIONS', '/clusters'], ['GET', '/clusters/.'], ['GET', '/healthz/../clusters']] as const) {
    const r = await h.inject({ method: m, url: u });
    console.log(m, u, r.statusCode, r.headers['content-type'], r.body.slice(0, 200));
  }
});
