import { afterAll, beforeAll, it } from 'vitest';
import { createCluster } from '../helpers/fixtures.js';
import { startHarness, type Harness, type Account } from '../helpers/harness.js';

let h: Harness; let a: Account; let cl: string;
beforeAll(async () => { h = await startHarness({ runJobs: true }); a = await h.newAccount(); cl = (await createCluster(h, a, { wait: true })).clusterId; });
afterAll(async () => h.close());
it('explore', async () => {
  const cases: Array<[string, string, string | undefined, Record<string,string>?]> = [
    ['PATCH', `/clusters/${cl}`, '{"labels":{"Bad":{"x":1}}}', {'content-type':'application/json'}],
    ['GET', `/clusters/${cl}`, undefined],
    ['GET', `/clusters`, undefined],
    ['PATCH', `/clusters/${cl}`, '{"labels":{"Bad":123}}', {'content-type':'application/json'}],
    ['PATCH', `/clusters/${cl}`, '{"labels":{"ok":"fine"}}', {'content-type':'application/json'}],
    ['POST', `/api-keys`, '{"name":"a\\u0000b"}', {'content-type':'application/json'}],
    ['POST', `/clusters`, '{"name":"zz","cloud_id":"x","labels":{"Bad":{"y":2}}}', {'content-type':'application/json'}],
    ['POST', `/clouds/x`, '{}', {'content-type':'application/json'}],
    ['GET', `/clouds/x`, undefined, {authorization: ''}],
    ['GET', `/clouds/%ZZ`, undefined, {authorization: ''}],
    ['OPTIONS', `/clouds`, undefined],
    ['DELETE', `/clouds`, undefined],
    ['POST', `/clusters/${cl}/node-pools`, '{"name":"p1","instance_type":"m6i.large","min_size":3,"max_size":2,"desired_size":2}', {'content-type':'application/json'}],
    ['POST', `/clusters/${cl}/node-pools`, '{"name":"p1","instance_type":"m6i.large","min_size":1,"max_size":3,"desired_size":"2"}', {'content-type':'application/json'}],
    ['POST', `/clusters/${cl}/node-pools`, '{"name":"p1","instance_type":"m6i.large","min_size":1,"max_size":3,"desired_size":1.5}', {'content-type':'application/json'}],
    ['POST', `/clusters/${cl}/node-pools`, '{"name":"p1","instance_type":"m6i.large","min_size":1,"max_size":3,"desired_size":2.0}', {'content-type':'application/json'}],
    ['POST', `/clusters/${cl}/upgrade`, '{"kubernetes_version":"1.32"}', {'content-type':'application/json'}],
    ['POST', `/clusters/${cl}/upgrade`, '{"kubernetes_version":"1.31"}', {'content-type':'application/json'}],
    ['POST', `/api-keys`, '{"name":"x","scopes":["root"]}', {'content-type':'application/json'}],
    ['POST', `/api-keys`, '{"name":"x","scopes":[]}', {'content-type':'application/json'}],
    ['POST', `/api-keys`, '{"name":"x","key_hash":"aa"}', {'content-type':'application/json'}],
    ['POST', `/api-keys`, '{"name":"x","expires_at":"2000-01-01T00:00:00Z"}', {'content-type':'application/json'}],
    ['POST', `/clouds`, '{"name":"x","provider":"aws","region":"us-east-1","credentials":{"access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab"},"account_id":"y"}', {'content-type':'application/json'}],
    ['POST', `/clouds`, '{"name":"x","provider":"gcp","region":"europe-west1","credentials":{"service_account_key":"nope"}}', {'content-type':'application/json'}],
    ['POST', `/clouds`, '{"name":"x","provider":"gcp","region":"europe-west1","credentials":{"service_account_key":{"type":"x"}}}', {'content-type':'application/json'}],
    ['POST', `/clouds`, '{"name":"x","provider":"azure","region":"westeurope","credentials":{"tenant_id":"nope","client_id":"nope","client_secret":"12345678","subscription_id":"x"}}', {'content-type':'application/json'}],
    ['POST', `/clouds`, '{"name":"x","provider":"aws","region":"us-east-1","credentials":{}}', {'content-type':'application/json'}],
    ['POST', `/clouds`, '{"name":"x","provider":"aws","region":"us-east-1","credentials":{"access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab","extra":1}}', {'content-type':'application/json'}],
  ];
  for (const [method, url, payload, headers] of cases) {
    const t = Date.now();
    const r = await h.inject({ method: method as 'GET', url, headers: { ...a.auth, ...(headers ?? {}) }, ...(payload !== undefined ? { payload } : {}) });
    console.log(method, url.slice(0, 60), (payload ?? '').slice(0, 40), '=>', r.statusCode, Date.now() - t, 'ms', r.headers['content-type'], r.body.slice(0, 400));
  }
});
