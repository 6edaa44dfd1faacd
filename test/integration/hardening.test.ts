import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountRegistryNamespace } from '../../src/lib/image-policy.js';
import { PLANS } from '../../src/modules/billing/plans.js';
import { postApp, postDeploy, uniqueName } from '../helpers/apps-fixtures.js';
import { destroyCluster } from '../helpers/billing-fixtures.js';
import { createCloud, createCluster } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';

/** Issue 10 items 4 and 5, through HTTP on a real database. */
describe(`plan limits and image sources (${TEST_DIALECT})`, () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
  });
  afterAll(async () => h?.close());

  const postCluster = (account: Account, cloudId: string, name = uniqueName('c')) =>
    h.inject({ method: 'POST', url: '/clusters', headers: account.auth, payload: { name, cloud_id: cloudId } });

  async function changePlan(account: Account, plan: string): Promise<void> {
    const response = await h.inject({ method: 'POST', url: '/billing/subscription', headers: account.auth, payload: { plan } });
    expect(response.statusCode, response.body).toBe(200);
  }

  describe("the plan's cluster limit (item 4)", () => {
    it('a free account gets its one cluster, then 409 plan_limit_reached naming the limit and the plan that lifts it', async () => {
      const user = await h.newAccount({ plan: 'free' });
      const billing = await h.inject({ method: 'GET', url: '/billing', headers: user.auth });
      expect(billing.json()).toMatchObject({ plan: 'free', limits: { max_clusters: 1 } });
      const cloudId = await createCloud(h, user);
      expect((await postCluster(user, cloudId)).statusCode).toBe(202);

      const refused = await postCluster(user, cloudId);
      expect(refused.statusCode).toBe(409);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.json()).toMatchObject({
        status: 409,
        code: 'plan_limit_reached',
        limit: 'max_clusters',
        max_clusters: 1,
        clusters: 1,
        plan: 'free',
        upgrade_plan: 'team',
      });
      expect(refused.json().detail).toBe(
        `The Free plan allows 1 cluster and this account has 1. The Team plan allows ${PLANS.team.limits.max_clusters}: change plans with POST /billing/subscription. Or destroy a cluster first.`,
      );
      const list = await h.inject({ method: 'GET', url: '/clusters', headers: user.auth });
      expect((list.json() as { data: unknown[] }).data).toHaveLength(1);
    });

    it('concurrent creates past the limit: exactly the limit is accepted, the rest get 409 (no race)', async () => {
      const user = await h.newAccount({ plan: 'free' });
      await changePlan(user, 'team');
      const cloudId = await createCloud(h, user);
      const answers = await Promise.all(Array.from({ length: 8 }, () => postCluster(user, cloudId)));
      const statuses = answers.map((response) => response.statusCode).sort();
      expect(statuses.filter((status) => status === 202)).toHaveLength(PLANS.team.limits.max_clusters);
      expect(statuses.filter((status) => status === 409)).toHaveLength(8 - PLANS.team.limits.max_clusters);
      for (const response of answers.filter((r) => r.statusCode === 409)) expect(response.json()).toMatchObject({ code: 'plan_limit_reached', plan: 'team', upgrade_plan: 'business' });
      const list = await h.inject({ method: 'GET', url: '/clusters?limit=200', headers: user.auth });
      expect((list.json() as { data: unknown[] }).data).toHaveLength(PLANS.team.limits.max_clusters);
    });

    it('concurrent first creates on a free account that never read its billing: one cluster', async () => {
      const user = await h.newAccount({ plan: 'free' });
      const cloudId = await createCloud(h, user);
      const answers = await Promise.all(Array.from({ length: 6 }, () => postCluster(user, cloudId)));
      expect(answers.filter((response) => response.statusCode === 202)).toHaveLength(1);
      expect(answers.filter((response) => response.statusCode === 409)).toHaveLength(5);
    });

    it('a destroyed cluster no longer counts; the largest plan says there is no plan above it', async () => {
      const user = await h.newAccount({ plan: 'free' });
      const { clusterId, cloudId } = await createCluster(h, user, { wait: true });
      expect((await postCluster(user, cloudId)).statusCode).toBe(409);
      await destroyCluster(h, user, clusterId);
      expect((await postCluster(user, cloudId)).statusCode).toBe(202);

      const big = await h.newAccount({ plan: 'free' });
      await changePlan(big, 'business');
      const bigCloud = await createCloud(h, big);
      for (let i = 0; i < PLANS.business.limits.max_clusters; i++) expect((await postCluster(big, bigCloud)).statusCode).toBe(202);
      const refused = await postCluster(big, bigCloud);
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toMatchObject({ code: 'plan_limit_reached', plan: 'business', upgrade_plan: null });
      expect(refused.json().detail).toContain('It is the largest plan');
    });
  });

  describe('where a deploy may pull its image from (item 5)', () => {
    let user: Account;
    let other: Account;
    let appId: string;
    let clusterId: string;

    beforeAll(async () => {
      user = await h.newAccount();
      other = await h.newAccount();
      clusterId = (await createCluster(h, user, { wait: true })).clusterId;
      const created = await postApp(h, user.auth, { name: uniqueName(), cluster_id: clusterId, type: 'service' });
      expect(created.statusCode, created.body).toBe(201);
      appId = (created.json() as { id: string }).id;
    });

    const REFUSED = () => [
      [`registry.skaledata.local/${accountRegistryNamespace(other.accountId)}/web:1`, 'its own images'],
      ['registry.skaledata.local/web:1', 'its own images'],
      ['127.0.0.1:5000/web:1', 'IP address'],
      ['169.254.169.254/latest:1', 'IP address'],
      ['10.1.2.3/web:1', 'IP address'],
      ['[::1]:5000/web:1', 'IP address'],
      ['localhost:5000/web:1', 'not a public host name'],
      ['metadata.google.internal/web:1', 'private or reserved'],
    ];

    it('refuses other accounts\' namespaces on our registry, IP literals, loopback, link-local and private names: 400 naming image', async () => {
      for (const [image, words] of REFUSED()) {
        const response = await postDeploy(h, user.auth, appId, image as string);
        expect(response.statusCode, image).toBe(400);
        expect(response.json()).toMatchObject({ code: 'validation_failed', errors: [{ path: 'image' }] });
        expect(response.json().errors[0].message, image).toContain(words);
      }
      const deploys = await h.inject({ method: 'GET', url: `/apps/${appId}/deploys`, headers: user.auth });
      expect((deploys.json() as { data: unknown[] }).data).toHaveLength(0);
    });

    it('refuses the same at app creation with an image', async () => {
      for (const [image] of REFUSED()) {
        const response = await postApp(h, user.auth, { name: uniqueName(), cluster_id: clusterId, type: 'service', image });
        expect(response.statusCode, image as string).toBe(400);
        expect(response.json()).toMatchObject({ errors: [{ path: 'image' }] });
      }
    });

    it("accepts the account's own namespace on our registry and public registries by name", async () => {
      for (const image of [`registry.skaledata.local/${accountRegistryNamespace(user.accountId)}/web:1`, 'ghcr.io/acme/web:2', 'nginx:1.27']) {
        // One app per image: a deploy keeps its app busy until it has rolled out.
        const created = await postApp(h, user.auth, { name: uniqueName(), cluster_id: clusterId, type: 'service' });
        const response = await postDeploy(h, user.auth, (created.json() as { id: string }).id, image);
        expect(response.statusCode, `${image}: ${response.body}`).toBe(202);
      }
    });
  });
});
