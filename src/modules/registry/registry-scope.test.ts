import { describe, expect, it } from 'vitest';
import { MAX_SCOPES, parseScopes, ScopeError } from './registry-scope.js';

describe('parseScopes', () => {
  it('reads the forms docker, podman and skopeo send', () => {
    expect(parseScopes(['repository:acme/web:pull,push'])).toEqual([{ type: 'repository', name: 'acme/web', actions: ['pull', 'push'] }]);
    expect(parseScopes(['repository:acme/web:pull', 'repository:acme/base:pull'])).toHaveLength(2);
    expect(parseScopes(['repository:acme/web:pull repository:acme/base:pull'])).toHaveLength(2);
    expect(parseScopes(['registry:catalog:*'])).toEqual([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    expect(parseScopes(['repository(plugin):acme/p:pull'])[0]?.type).toBe('repository(plugin)');
    expect(parseScopes([])).toEqual([]);
  });

  it('takes the actions after the last colon, so a name with a colon is read whole (and refused as a repository)', () => {
    expect(() => parseScopes(['repository:localhost:5000/acme/web:pull'])).toThrow('"localhost:5000/acme/web" is not a repository name');
  });

  it.each([
    ['repository:acme/web', 'not type:name:actions'],
    ['repository::pull', 'not type:name:actions'],
    [':acme:pull', 'not type:name:actions'],
    ['repository:Acme/Web:pull', 'not a repository name'],
    ['repository:acme/web:pull;rm', 'not type:name:actions'],
    ['repository:acme/../web:pull', 'not a repository name'],
    [`repository:${'a'.repeat(600)}:pull`, 'at most 512 characters'],
  ])('refuses %s', (scope, message) => {
    expect(() => parseScopes([scope])).toThrow(ScopeError);
    expect(() => parseScopes([scope])).toThrow(message);
  });

  it(`refuses more than ${MAX_SCOPES} scopes`, () => {
    expect(() => parseScopes(Array.from({ length: MAX_SCOPES + 1 }, (_, i) => `repository:a/r${i}:pull`))).toThrow(`at most ${MAX_SCOPES} scopes`);
  });
});
