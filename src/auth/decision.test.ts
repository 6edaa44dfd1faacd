import { describe, expect, it } from 'vitest';
import { decide } from './decision.js';
import { SCOPES, type AuthRequirement, type Scope } from './scopes.js';

describe('decide', () => {
  const scoped: AuthRequirement = { kind: 'scope', scope: 'clusters:write' };

  it('lets users through every requirement', () => {
    for (const requirement of [scoped, { kind: 'full' }, { kind: 'userOnly' }, { kind: 'anyPrincipal' }] as AuthRequirement[]) {
      expect(decide(requirement, 'user', [])).toBe('allowed');
    }
  });

  it('refuses every API key on user-only routes, full included', () => {
    for (const scopes of [['full'], ['clusters:write'], [...SCOPES]] as Scope[][]) {
      expect(decide({ kind: 'userOnly' }, 'api_key', scopes)).toMatchObject({ type: 'refusal', code: 'user_session_required' });
    }
  });

  it('lets full bypass scope checks', () => {
    expect(decide(scoped, 'api_key', ['full'])).toBe('allowed');
    expect(decide({ kind: 'full' }, 'api_key', ['full'])).toBe('allowed');
  });

  it('names the missing scope with the seed message', () => {
    expect(decide(scoped, 'api_key', ['clusters:read', 'apps:deploy'])).toEqual({
      type: 'refusal',
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
    expect(decide({ kind: 'anyPrincipal' }, 'api_key', ['jobs:read'])).toBe('allowed');
  });
});
