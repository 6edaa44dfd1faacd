import { describe, expect, it } from 'vitest';
import { normalizeScopes, SCOPES } from './scopes.js';

// The seed page's table, restated here so a changed catalogue fails this test.
const SEED_SCOPES = ['full', 'clusters:read', 'clusters:write', 'apps:read', 'apps:deploy', 'apps:manage', 'jobs:read', 'terminal:exec'];

describe('scope catalogue', () => {
  it('holds exactly the seed page scopes, in its order', () => {
    expect([...SCOPES]).toEqual(SEED_SCOPES);
  });
});

describe('normalizeScopes', () => {
  it('removes duplicates and lets full absorb the rest', () => {
    expect(normalizeScopes(['apps:read', 'apps:read', 'clusters:read'])).toEqual(['apps:read', 'clusters:read']);
    expect(normalizeScopes(['apps:read', 'full'])).toEqual(['full']);
  });
});
