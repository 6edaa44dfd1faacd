/**
 * A key limited to some clusters and apps (CONTRACT §7 `resources`), and which of them a route touches.
 * The rules, in one place:
 * - a listed cluster brings its apps, node pools, pods, logs, terminals and jobs ("an app inherits its
 *   cluster"); a listed app brings its deploys, DAGs, credentials and jobs;
 * - anything else of the account answers exactly as if it did not exist (404), and lists hold only what
 *   the key may see (filtered in SQL by the list's own query);
 * - what changes the whole account (a new cluster or cloud, a cloud's credentials, the GitHub
 *   integration), and the account's keys and billing (reads included: other keys' lists name resources
 *   outside the fence), is refused with 403 resource_not_allowed; an app may be created only on a listed
 *   cluster;
 * - clouds are read-only, and only those under a listed cluster can be seen.
 * Decided after the credential and the scope (the seed's refusals come first and keep their words).
 */

/** What a key may see, as parsed once per key load. */
export interface ResourceFence {
  readonly clusters: ReadonlySet<string>;
  readonly apps: ReadonlySet<string>;
}

/** The stored and shown form (`resources` on the key). */
export interface ResourceList {
  clusters: string[];
  apps: string[];
}

export const MAX_FENCED_RESOURCES = 50;

export function resourceFence(list: ResourceList): ResourceFence {
  return Object.freeze({ clusters: new Set(list.clusters), apps: new Set(list.apps) });
}

/** The stored JSON, read leniently: what is not a list of strings counts as empty (fail closed). */
export function parseStoredResources(stored: string): ResourceList {
  const parsed: unknown = JSON.parse(stored);
  const ids = (value: unknown): string[] => (Array.isArray(value) ? value.filter((id): id is string => typeof id === 'string') : []);
  const object = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  return { clusters: ids(object.clusters), apps: ids(object.apps) };
}

/** What one route touches, named from its method and path (see `fenceRuleFor`). */
export type FenceRule =
  /** Not a cluster or app: the caller's identity, the scope catalogue. */
  | { kind: 'account' }
  /** A list: its query holds only what the key may see. */
  | { kind: 'list' }
  /** Creates or changes what the whole account shares, or reads the account's keys or billing: refused to a fenced key. */
  | { kind: 'whole-account' }
  /** A resource named by a path parameter, and everything under it. */
  | { kind: 'cluster' | 'app' | 'job' | 'cloud'; param: string }
  /** A new app: its cluster (the body's cluster_id) must be listed. */
  | { kind: 'new-app' };

/** A route keys may call whose family has no rule here: registration fails, so no route goes unfenced by oversight. */
export class MissingFenceRuleError extends Error {
  constructor(method: string, url: string) {
    super(`Route ${method} ${url}: no resource rule for it in auth/resource-fence.ts (fenceRuleFor); every route an API key may call needs one.`);
    this.name = 'MissingFenceRuleError';
  }
}

const ACCOUNT: FenceRule = { kind: 'account' };
const LIST: FenceRule = { kind: 'list' };
const WHOLE_ACCOUNT: FenceRule = { kind: 'whole-account' };

/** Route families about the caller itself (who it is, what it may do): open to a fenced key. */
const CALLER_FAMILIES = new Set(['me', 'scopes']);
/**
 * Route families about the whole account, reads included: the account's keys (whose own `resources` name
 * clusters and apps outside the fence), its billing (the usage of every cluster), its audit trail and its
 * webhooks (events about every resource). Refused to a fenced key.
 */
const ACCOUNT_WIDE_FAMILIES = new Set(['api-keys', 'billing', 'events', 'webhooks']);

/**
 * The rule of a route an API key may call, from its method and Fastify path (`/clusters/:id/pods`). Unknown
 * families throw (MissingFenceRuleError): a new one must be taught here.
 */
export function fenceRuleFor(method: string, url: string): FenceRule {
  const [, family = '', param, ...rest] = url.split('/');
  const id = param?.startsWith(':') ? param.slice(1) : undefined;
  const read = method === 'GET' || method === 'HEAD';
  if (CALLER_FAMILIES.has(family)) return ACCOUNT;
  if (ACCOUNT_WIDE_FAMILIES.has(family)) return WHOLE_ACCOUNT;
  switch (family) {
    case 'clusters':
      if (id !== undefined) return { kind: 'cluster', param: id };
      if (param === undefined) return read ? LIST : WHOLE_ACCOUNT;
      break;
    case 'apps':
      if (id !== undefined) return { kind: 'app', param: id };
      if (param === undefined) return read ? LIST : { kind: 'new-app' };
      break;
    case 'jobs':
      if (id !== undefined) return { kind: 'job', param: id };
      if (param === undefined && read) return LIST;
      break;
    case 'clouds':
      if (param === undefined) return read ? LIST : WHOLE_ACCOUNT;
      // A cloud's credentials serve every cluster on it: a fenced key may read one, never change it.
      if (id !== undefined && rest.length === 0) return read ? { kind: 'cloud', param: id } : WHOLE_ACCOUNT;
      break;
    case 'integrations':
      return read ? ACCOUNT : WHOLE_ACCOUNT;
  }
  throw new MissingFenceRuleError(method, url);
}

/** The owners a fence check needs to look up (the database, through the api-keys module). */
export interface FenceLookups {
  /** The cluster of an app of the account, or null when there is no such app. */
  appCluster(accountId: string, appId: string): Promise<string | null>;
  /** The cluster and app (if any) a job of the account works on, or null when there is no such job. */
  jobOwner(accountId: string, jobId: string): Promise<{ clusterId: string | null; appId: string | null } | null>;
  /** Whether a cloud of the account carries one of these clusters. */
  cloudCarries(accountId: string, cloudId: string, clusterIds: readonly string[]): Promise<boolean>;
}

/** The outcome of a fence check: through, hidden (answer 404 as for a missing id), or refused (403). */
export type FenceOutcome = 'through' | 'hidden' | 'refused';

const appInside = async (fence: ResourceFence, lookups: FenceLookups, accountId: string, appId: string): Promise<boolean> => {
  if (fence.apps.has(appId)) return true;
  if (fence.clusters.size === 0) return false;
  const cluster = await lookups.appCluster(accountId, appId);
  return cluster !== null && fence.clusters.has(cluster);
};

type FenceTarget = { accountId: string; params: Readonly<Record<string, string | undefined>>; clusterId?: string | undefined };

/**
 * The outcome when no owner needs to be read (every rule but app, job and cloud), or null. The gate uses it
 * to decide those routes without a promise; checkFence starts with it.
 */
export function fenceOutcomeAtOnce(fence: ResourceFence, rule: FenceRule, target: FenceTarget): FenceOutcome | null {
  switch (rule.kind) {
    case 'account':
    case 'list':
      return 'through';
    case 'whole-account':
      return 'refused';
    case 'new-app':
      return target.clusterId !== undefined && fence.clusters.has(target.clusterId) ? 'through' : 'refused';
    case 'cluster':
      return fence.clusters.has(target.params[rule.param] ?? '') ? 'through' : 'hidden';
    default:
      return null;
  }
}

/**
 * Whether a fenced key may go on to a route (its rule, the path parameters, the body's cluster_id for a
 * new app). A missing resource and one outside the fence give the same answer.
 */
export async function checkFence(fence: ResourceFence, rule: FenceRule, target: FenceTarget, lookups: FenceLookups): Promise<FenceOutcome> {
  const atOnce = fenceOutcomeAtOnce(fence, rule, target);
  if (atOnce !== null || !('param' in rule)) return atOnce ?? 'through';
  const { accountId } = target;
  const id = target.params[rule.param] ?? '';
  switch (rule.kind) {
    case 'cluster':
      return 'through'; // decided at once above
    case 'app':
      return (await appInside(fence, lookups, accountId, id)) ? 'through' : 'hidden';
    case 'cloud':
      return fence.clusters.size > 0 && (await lookups.cloudCarries(accountId, id, [...fence.clusters])) ? 'through' : 'hidden';
    case 'job': {
      const owner = await lookups.jobOwner(accountId, id);
      if (owner === null) return 'hidden';
      if (owner.clusterId !== null && fence.clusters.has(owner.clusterId)) return 'through';
      return owner.appId !== null && fence.apps.has(owner.appId) ? 'through' : 'hidden';
    }
  }
}
