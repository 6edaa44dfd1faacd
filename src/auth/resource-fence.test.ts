import { describe, expect, it } from 'vitest';
import { heldScopes } from './decision.js';
import { checkFence, fenceRuleFor, MissingFenceRuleError, parseStoredResources, resourceFence, type FenceLookups } from './resource-fence.js';
import { parseStoredScopeExpiry } from './scopes.js';

const lookups: FenceLookups = {
  appCluster: async (_account, app) => (app === 'app_on_a' ? 'cls_a' : app === 'app_on_b' ? 'cls_b' : null),
  jobOwner: async (_account, job) => (job === 'job_a' ? { clusterId: 'cls_a', appId: null } : job === 'job_app' ? { clusterId: 'cls_b', appId: 'app_listed' } : null),
  cloudCarries: async (_account, cloud, clusters) => cloud === 'cld_a' && clusters.includes('cls_a'),
};

describe('resource fence', () => {
  it('names the rule of each route family, and refuses to guess for an unknown one', () => {
    expect(fenceRuleFor('GET', '/clusters')).toEqual({ kind: 'list' });
    expect(fenceRuleFor('POST', '/clusters')).toEqual({ kind: 'whole-account' });
    expect(fenceRuleFor('DELETE', '/clusters/:id/node-pools/:pool')).toEqual({ kind: 'cluster', param: 'id' });
    expect(fenceRuleFor('POST', '/apps')).toEqual({ kind: 'new-app' });
    expect(fenceRuleFor('PATCH', '/clouds/:id')).toEqual({ kind: 'whole-account' });
    expect(fenceRuleFor('GET', '/clouds/:id')).toEqual({ kind: 'cloud', param: 'id' });
    expect(fenceRuleFor('GET', '/me/check')).toEqual({ kind: 'account' });
    expect(fenceRuleFor('GET', '/api-keys')).toEqual({ kind: 'whole-account' });
    expect(fenceRuleFor('GET', '/billing')).toEqual({ kind: 'whole-account' });
    expect(() => fenceRuleFor('GET', '/widgets/:id')).toThrow(MissingFenceRuleError);
    expect(() => fenceRuleFor('GET', '/clouds/:id/secrets')).toThrow(MissingFenceRuleError);
  });

  it('lets through what the list gives (an app with its cluster, a job with its app), hides the rest', async () => {
    const fence = resourceFence({ clusters: ['cls_a'], apps: ['app_listed'] });
    const at = (params: Record<string, string>) => ({ accountId: 'user_1', params });
    expect(await checkFence(fence, { kind: 'cluster', param: 'id' }, at({ id: 'cls_a' }), lookups)).toBe('through');
    expect(await checkFence(fence, { kind: 'cluster', param: 'id' }, at({ id: 'cls_b' }), lookups)).toBe('hidden');
    expect(await checkFence(fence, { kind: 'app', param: 'id' }, at({ id: 'app_on_a' }), lookups)).toBe('through');
    expect(await checkFence(fence, { kind: 'app', param: 'id' }, at({ id: 'app_on_b' }), lookups)).toBe('hidden');
    expect(await checkFence(fence, { kind: 'app', param: 'id' }, at({ id: 'app_listed' }), lookups)).toBe('through');
    expect(await checkFence(fence, { kind: 'job', param: 'id' }, at({ id: 'job_app' }), lookups)).toBe('through');
    expect(await checkFence(fence, { kind: 'job', param: 'id' }, at({ id: 'job_missing' }), lookups)).toBe('hidden');
    expect(await checkFence(fence, { kind: 'cloud', param: 'id' }, at({ id: 'cld_a' }), lookups)).toBe('through');
    expect(await checkFence(fence, { kind: 'whole-account' }, at({}), lookups)).toBe('refused');
    expect(await checkFence(fence, { kind: 'new-app' }, { ...at({}), clusterId: 'cls_b' }, lookups)).toBe('refused');
  });

  it('reads stored values failing closed: a broken list fences everything, a broken instant has lapsed', () => {
    expect(parseStoredResources('{"clusters":"cls_a","apps":[1,"app_x"]}')).toEqual({ clusters: [], apps: ['app_x'] });
    expect(parseStoredResources('null')).toEqual({ clusters: [], apps: [] });
    const lapses = new Map(parseStoredScopeExpiry('{"jobs:read":"not a time","clusters:read":"2999-01-01T00:00:00.000Z","made:up":"2999-01-01T00:00:00.000Z"}').map(([scope, at]) => [scope, at.getTime()]));
    expect([...lapses.keys()]).toEqual(['jobs:read', 'clusters:read']);
    expect(heldScopes({ scopes: ['jobs:read', 'clusters:read'], scopeLapses: lapses }, () => Date.now())).toEqual(['clusters:read']);
  });
});
