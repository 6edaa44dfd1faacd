import { afterAll, beforeAll, it } from 'vitest';
import { createCluster } from '../helpers/fixtures.js';
import { startHarness, type Harness, type Account } from '../helpers/harness.js';

let h: Harness; let a: Account; let cl: string;
beforeAll(async () => { h = await startHarness({ runJobs: true }); a = await h.newAccount(); cl = (await createCluster(h, a, { wait: true })).clusterId; });
afterAll(async () => h.close());
it('explore', async () => {
  const cases: Array<[string, string, string | undefined, Record<string,string>?]> = [
    ['POST', '/clouds', '{bad', {'content-type':'application/json'}],
    ['POST', '/clouds', '[1,2]', {'content-type':'application/json'}],
    ['POST', '/clouds', '"str"', {'content-type':'application/json'}],
    ['POST', '/clouds', '', {'content-type':'application/json'}],
    ['POST', '/clouds', 'name=x', {'content-type':'application/x-www-form-urlencoded'}],
    ['POST', '/clouds', 'hello', {'content-type':'text/plain'}],
    ['POST', '/clouds', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--b--', {'content-type':'multipart/form-data; boundary=b'}],
    ['POST', '/clouds', '{"name":"x"}', {}],
    ['POST', '/clouds', '{"name":"x","__proto__":{"polluted":1}}', {'content-type':'application/json'}],
    ['POST', '/clouds', '{"name":"x","constructor":{"prototype":{"polluted":1}}}', {'content-type':'application/json'}],
    ['POST', '/clouds', '{"name":"x","constructor":1}', {'content-type':'application/json'}],
    ['POST', '/clouds', '['.repeat(10000)+']'.repeat(10000), {'content-type':'application/json'}],
    ['POST', '/clouds', '{"a":'.repeat(10000)+'1'+'}'.repeat(10000), {'content-type':'application/json'}],
    ['PATCH', `/clusters/${cl}`, '{"labels":{"Bad":"x"}}', {'content-type':'application/json'}],
    ['PATCH', `/clusters/${cl}`, JSON.stringify({labels:{env:'x'.repeat(64)}}), {'content-type':'application/json'}],
    ['PATCH', `/clusters/${cl}`, JSON.stringify({labels:Object.fromEntries(Array.from({length:21},(_, i)=>[`k${i}`,'v']))}), {'content-type':'application/json'}],
    ['PATCH', `/clusters/${cl}`, '{}', {'content-type':'application/json'}],
    ['GET', '/clouds?limit=abc', undefined],
    ['GET', '/clouds?limit=1.5', undefined],
    ['GET', '/clouds?cursor=garbage', undefined],
    ['GET', '/clouds?foo=1', undefined],
    ['GET', '/api-keys?foo=1', undefined],
    ['GET', '/api-keys?limit=0', undefined],
    ['GET', '/jobs?foo=1', undefined],
    ['GET', `/clusters/${cl}/node-pools?foo=1`, undefined],
    ['GET', `/clusters/${cl}/pods?foo=1`, undefined],
    ['GET', `/clusters/${cl}/pods/x/logs?foo=1`, undefined],
    ['GET', '/clouds/' + 'a'.repeat(65), undefined],
    ['GET', '/clouds/' + 'a'.repeat(64), undefined],
    ['GET', '/clouds/%00', undefined],
    ['GET', '/clouds/..%2F..%2Fetc', undefined],
    ['GET', '/clouds/../etc', undefined],
    ['GET', '/clouds/%C3%B1%F0%9F%92%A5', undefined],
    ['GET', "/clouds/'%20OR%201=1--", undefined],
    ['GET', '/clouds/%ZZ', undefined],
    ['GET', '/clouds/' + 'a'.repeat(10000), undefined],
    ['GET', '/' + 'a'.repeat(10000), undefined],
    ['GET', '/jobs?resource_id=%00', undefined],
    ['GET', '/clusters?cloud_id=%00', undefined],
    ['GET', '/jobs/%00', undefined],
    ['POST', '/clusters', JSON.stringify({name:'x', cloud_id:'\u0000'}), {'content-type':'application/json'}],
    ['PUT', '/clouds', '{}', {'content-type':'application/json'}],
  ];
  for (const [method, url, payload, headers] of cases) {
    const t = Date.now();
    const r = await h.inject({ method: method as 'GET', url, headers: { ...a.auth, ...(headers ?? {}) }, ...(payload !== undefined ? { payload } : {}) });
    console.log(method, url.slice(0, 60), (payload ?? '').slice(0, 40), '=>', r.statusCode, Date.now() - t, 'ms', r.headers['content-type'], r.body.slice(0, 300));
  }
  const big = '{"name":"' + 'a'.repeat(64*1024 - 11 + 1) + '"}';
  console.log(big.length);
  const r = await h.inject({ method: 'POST', url: '/clouds', headers: { ...a.auth, 'content-type': 'application/json' }, payload: big });
  console.log(r.statusCode, r.body);
  const arr = '[' + Array(1e6).fill('0').join(',') + ']';
  const r2 = await h.inject({ method: 'POST', url: '/clouds', headers: { ...a.auth, 'content-type': 'application/json' }, payload: arr });
  console.log(r2.statusCode, r2.body);
  console.log(JSON.stringify(r.headers));
});
