import { SkaledataProblem, type SkaledataClient } from '../sdk/index.js';
import { CliError, EXIT } from './errors.js';

/**
 * Commands take a resource's id or its name. Ids are used as they are; a name is looked up in the
 * list, which needs that list's read scope: a key without it is told to pass the id instead.
 */
const KINDS = {
  app: { prefix: 'app_', list: '/apps', scope: 'apps:read' },
  cluster: { prefix: 'cls_', list: '/clusters', scope: 'clusters:read' },
  cloud: { prefix: 'cld_', list: '/clouds', scope: 'clusters:read' },
} as const;

export type Kind = keyof typeof KINDS;

export async function resolveId(client: SkaledataClient, kind: Kind, idOrName: string): Promise<string> {
  const { prefix, list, scope } = KINDS[kind];
  if (idOrName.startsWith(prefix)) return idOrName;
  const matches: string[] = [];
  try {
    for await (const item of client.paginate(list)) {
      if (item.name === idOrName && !('status' in item && item.status === 'deleted')) matches.push(item.id);
    }
  } catch (error) {
    if (error instanceof SkaledataProblem && error.code === 'insufficient_scope') {
      throw new CliError(EXIT.refused, 'insufficient_scope', error.detail, `looking up the ${kind} "${idOrName}" by name needs ${scope}: pass its id (${prefix}…) instead`, error.toJSON() as unknown as Record<string, unknown>);
    }
    throw error;
  }
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length === 0) throw new CliError(EXIT.refused, 'not_found', `no ${kind} named "${idOrName}"`);
  throw new CliError(EXIT.refused, 'conflict', `${matches.length} ${kind}s are named "${idOrName}": pass the id (${matches.join(', ')})`);
}
