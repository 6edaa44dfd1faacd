import { unwrap, type Cluster, type CreateClusterBody } from '../../sdk/index.js';
import { usageError } from '../errors.js';
import { DEFAULT_WAIT_SECONDS, follow } from '../follow.js';
import { parse, session, table, wholeNumber, type Io } from '../io.js';
import { resolveId } from '../resolve.js';

export async function clusters(io: Io, args: string[]): Promise<void> {
  const [sub = '', ...rest] = args;
  if (sub === 'list') return list(io, rest);
  if (sub === 'create') return create(io, rest);
  throw usageError(sub ? `unknown command "clusters ${sub}"` : 'clusters needs a command: list or create');
}

async function list(io: Io, args: string[]): Promise<void> {
  const { values } = parse(args, { status: { type: 'string' } }, { min: 0, max: 0, names: '' });
  const { client, out } = session(io, values);
  const all: Cluster[] = [];
  const query = values.status ? { status: values.status as Cluster['status'] } : {};
  for await (const cluster of client.paginate('/clusters', query)) all.push(cluster);
  out.result({ data: all }, () =>
    table(
      ['ID', 'NAME', 'STATUS', 'REGION', 'KUBERNETES', 'CLOUD'],
      all.map((cluster) => [cluster.id, cluster.name, cluster.status, cluster.region, cluster.kubernetes_version, cluster.cloud_id]),
    ),
  );
}

async function create(io: Io, args: string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      name: { type: 'string' },
      cloud: { type: 'string' },
      region: { type: 'string' },
      'kubernetes-version': { type: 'string' },
      label: { type: 'string', multiple: true },
      'auto-upgrade': { type: 'boolean' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
    },
    { min: 0, max: 0, names: '' },
  );
  if (!values.name) throw usageError('--name is required');
  if (!values.cloud) throw usageError('--cloud is required (a cloud account id, cld_…, or its name)');
  const timeout = wholeNumber(values.timeout, '--timeout', 1, 86_400) ?? DEFAULT_WAIT_SECONDS;
  const labels = parseLabels(values.label ?? []);
  const { client, out, ...rest } = session(io, values);
  const body: CreateClusterBody = { name: values.name, cloud_id: await resolveId(client, 'cloud', values.cloud) };
  if (values.region) body.region = values.region;
  if (values['kubernetes-version']) body.kubernetes_version = values['kubernetes-version'] as CreateClusterBody['kubernetes_version'];
  if (labels) body.labels = labels;
  if (values['auto-upgrade']) body.auto_upgrade = true;

  const accepted = await unwrap(client.POST('/clusters', { body }));
  const { cluster, job } = accepted;
  if (!values.wait) {
    out.result(accepted, () => `creating cluster ${cluster.name} (${cluster.id}): job ${job.id}; follow it with \`skaledata jobs wait ${job.id}\``);
    return;
  }
  const followed = await follow({ client, out, ...rest }, job, { what: `cluster ${cluster.name}'s status`, wait: (options) => client.waitForCluster(cluster.id, options) }, timeout, `creating cluster ${cluster.name} (${cluster.id})`);
  // The job succeeded or the cluster settled: either way, show the cluster as it is now.
  const now = followed.via === 'resource' ? followed.resource : await unwrap(client.GET('/clusters/{id}', { params: { path: { id: cluster.id } } }));
  out.result({ cluster: now, job: followed.via === 'job' ? followed.job : job }, () => `cluster ${now.name} (${now.id}) is ${now.status}${now.endpoint ? ` at ${now.endpoint}` : ''}`);
}

function parseLabels(items: string[]): Record<string, string> | null {
  if (items.length === 0) return null;
  const labels: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf('=');
    if (at <= 0) throw usageError(`--label must be key=value (got "${item}")`);
    labels[item.slice(0, at)] = item.slice(at + 1);
  }
  return labels;
}
