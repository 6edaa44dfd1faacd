import { describe, expect, it } from 'vitest';
import { decide, normalizeScopes, SCOPES, type AuthRequirement, type Scope } from './scopes.js';

// The seed page's table, restated here so a changed catalogue fails this test.
const SEED_SCOPES = ['full', 'clusters:read', 'clusters:write', 'apps:read', 'apps:deploy', 'apps:manage', 'jobs:read', 'terminal:exec'];

describe('scope catalogue', () => {
  it('holds exactly the seed page scopes, in its order', () => {
    expect([...SCOPES]).toEqual(SEED_SCOPES);
  });
});

describe('decide', () => {
  const scoped: AuthRequirement = { kind: 'scope', scope: 'clusters:write' };

  it('lets users through every requirement', () => {
    for (const requirement of [scoped, { kind: 'full' }, { kind: 'userOnly' }, { kind: 'anyPrincipal' }] as AuthRequirement[]) {
      expect(decide(requirement, 'user', [])).toEqual({ allowed: true });
    }
  });

  it('refuses every API key on user-only routes, full included', () => {
    for (const scopes of [['full'], ['clusters:write'], [...SCOPES]] as Scope[][]) {
      expect(decide({ kind: 'userOnly' }, 'api_key', scopes)).toMatchObject({ allowed: false, code: 'user_session_required' });
    }
  });

  it('lets full bypass scope checks', () => {
    expect(decide(scoped, 'api_key', ['full'])).toEqual({ allowed: true });
    expect(decide({ kind: 'full' }, 'api_key', ['full'])).toEqual({ allowed: true });
  });

  it('names the missing scope with the seed message', () => {
    expect(decide(scoped, 'api_key', ['clusters:read', 'apps:deploy'])).toEqual({
      allowed: false,
      code: 'insufficient_scope',
      detail: 'API key missing required scope: clusters:write',
      scope: 'clusters:write',
    });
  });

  it('requires full where a key route names no scope', () => {
    const every = SCOPES.filter((s) => s !== 'full');
    expect(decide({ kind: 'full' }, 'api_key', every)).toMatchObject({ detail: 'API key missing required scope: full' });
  });

  it('accepts any valid key where any principal may call', () => {
    expect(decide({ kind: 'anyPrincipal' }, 'api_key', ['jobs:read'])).toEqual({ allowed: true });
  });
});

describe('normalizeScopes', () => {
  it('removes duplicates and lets full absorb the rest', () => {
    expect(normalizeScopes(['apps:read', 'apps:read', 'clusters:read'])).toEqual(['apps:read', 'clusters:read']);
    expect(normalizeScopes(['apps:read', 'full'])).toEqual(['full']);
  });
});
