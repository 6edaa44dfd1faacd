/**
 * The `scope` parameter of the Docker registry token protocol (distribution's token-scope spec):
 * `resourcetype[(class)]:resourcename:action[,action...]`, several per request (repeated parameters
 * or space-separated). The resource name may itself contain ':' (a host:port prefix), so the type is
 * what precedes the first ':' and the actions what follows the last one.
 */

export type RegistryAction = 'pull' | 'push';

export interface RequestedAccess {
  type: string;
  name: string;
  actions: string[];
}

export interface GrantedAccess {
  type: 'repository';
  name: string;
  actions: RegistryAction[];
}

/** Bounds on what one request may ask: docker asks for one or two (a cross-repository mount). */
export const MAX_SCOPES = 16;
export const MAX_SCOPE_LENGTH = 512;

// Distribution's reference grammar for a repository path: lowercase components joined by '/'.
const REPOSITORY_NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const RESOURCE_TYPE = /^[a-z0-9]+(?:\([a-z0-9]+\))?$/;
const ACTION = /^[a-z*]+$/;

export class ScopeError extends Error {}

/** Every access a request asks for, or a ScopeError saying which part is malformed. */
export function parseScopes(values: readonly string[]): RequestedAccess[] {
  const items = values.flatMap((value) => value.split(' ')).filter((item) => item !== '');
  if (items.length > MAX_SCOPES) throw new ScopeError(`at most ${MAX_SCOPES} scopes per request`);
  return items.map((item) => {
    if (item.length > MAX_SCOPE_LENGTH) throw new ScopeError(`a scope is at most ${MAX_SCOPE_LENGTH} characters`);
    const first = item.indexOf(':');
    const last = item.lastIndexOf(':');
    if (first <= 0 || last === first) throw new ScopeError(`"${item.slice(0, 80)}" is not type:name:actions`);
    const type = item.slice(0, first);
    const name = item.slice(first + 1, last);
    const actions = item.slice(last + 1).split(',');
    if (!RESOURCE_TYPE.test(type) || name === '' || actions.some((action) => !ACTION.test(action))) {
      throw new ScopeError(`"${item.slice(0, 80)}" is not type:name:actions`);
    }
    if (type === 'repository' && !REPOSITORY_NAME.test(name)) throw new ScopeError(`"${name.slice(0, 80)}" is not a repository name`);
    return { type, name, actions };
  });
}
