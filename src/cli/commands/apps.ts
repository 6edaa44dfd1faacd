import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { unwrap, type DagFileInput } from '../../sdk/index.js';
import { CliError, EXIT, usageError } from '../errors.js';
import { DEFAULT_WAIT_SECONDS, follow } from '../follow.js';
import { parse, session, wholeNumber, type Io } from '../io.js';
import { resolveId } from '../resolve.js';

/**
 * The files of a folder that POST /apps/{id}/dags accepts (its OpenAPI description): Python, the data
 * files DAGs read, and .airflowignore. Anything else in the folder is left out, and said so.
 */
const DAG_EXTENSIONS = ['.py', '.sql', '.json', '.yaml', '.yml', '.txt', '.md', '.csv', '.cfg', '.ini'];
const DAG_NAMES = new Set(['.airflowignore']);
const SKIPPED_FOLDERS = new Set(['__pycache__', 'node_modules', '.git', '.venv', 'venv']);
const ARCHIVE = /\.(zip|tar\.gz|tgz)$/i;

export async function apps(io: Io, args: string[]): Promise<void> {
  const [sub = '', ...rest] = args;
  if (sub === 'deploy') return deploy(io, rest);
  throw usageError(sub ? `unknown command "apps ${sub}"` : 'apps needs a command: deploy');
}

export async function dags(io: Io, args: string[]): Promise<void> {
  const [sub = '', ...rest] = args;
  if (sub === 'push') return push(io, rest);
  throw usageError(sub ? `unknown command "dags ${sub}"` : 'dags needs a command: push');
}

async function deploy(io: Io, args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { image: { type: 'string' }, wait: { type: 'boolean' }, timeout: { type: 'string' } }, { min: 1, max: 1, names: 'the app (id or name)' });
  if (!values.image) throw usageError('--image is required (e.g. --image registry.example.com/team/etl:1.4.2)');
  const timeout = wholeNumber(values.timeout, '--timeout', 1, 86_400) ?? DEFAULT_WAIT_SECONDS;
  const s = session(io, values);
  const { client, out } = s;
  const appId = await resolveId(client, 'app', positionals[0] ?? '');
  const accepted = await unwrap(client.POST('/apps/{id}/deploys', { params: { path: { id: appId } }, body: { image: values.image } }));
  const { deploy: started, job } = accepted;
  if (!values.wait) {
    out.result(accepted, () => `deploying ${started.image} to ${appId}: deploy ${started.id}, job ${job.id}`);
    return;
  }
  // A CI/CD key (apps:deploy + clusters:read) cannot read jobs, but may read the deploy it started.
  const followed = await follow(s, job, { what: `deploy ${started.id}`, wait: (options) => client.waitForDeploy(appId, started.id, options) }, timeout, `deploying ${started.image} to ${appId}`);
  const finished = followed.via === 'resource' ? followed.resource : await unwrap(client.GET('/apps/{id}/deploys/{deploy}', { params: { path: { id: appId, deploy: started.id } } }));
  if (finished.status !== 'succeeded') {
    throw new CliError(EXIT.failed, `deploy_${finished.status}`, `deploy ${finished.id} ${finished.status}${finished.error ? `: ${finished.error}` : ''}`);
  }
  out.result({ deploy: finished, job: followed.via === 'job' ? followed.job : job }, () => `deployed ${finished.image} to ${appId} (deploy ${finished.id})`);
}

async function push(io: Io, args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { wait: { type: 'boolean' }, timeout: { type: 'string' } }, { min: 2, max: 2, names: 'the app (id or name) and a folder or a .zip/.tar.gz bundle' });
  const timeout = wholeNumber(values.timeout, '--timeout', 1, 86_400) ?? DEFAULT_WAIT_SECONDS;
  const files = collect(positionals[1] ?? '');
  const s = session(io, values);
  const { client, out } = s;
  if (files.skipped.length > 0) out.note(`left out (not a DAG file): ${files.skipped.join(', ')}`);
  const appId = await resolveId(client, 'app', positionals[0] ?? '');
  const accepted = await client.uploadDags(appId, files.inputs);
  const { bundle, job } = accepted;
  const label = `DAG bundle v${bundle.version} (${bundle.id}, ${bundle.file_count} files) for ${appId}`;
  if (!values.wait) {
    out.result(accepted, () => `uploaded ${label}: syncing in job ${job.id}`);
    return;
  }
  // The seed's DAG sync bot (apps:deploy alone) can read neither the job nor the bundle list: exit 7.
  // (A succeeded dag.sync job is what makes a bundle synced.)
  const followed = await follow(s, job, { what: `bundle v${bundle.version}'s status`, wait: (options) => client.waitForDagBundle(appId, bundle.id, options) }, timeout, `uploaded ${label}`);
  out.result({ bundle: followed.via === 'resource' ? followed.resource : { ...bundle, status: 'synced' }, job: followed.via === 'job' ? followed.job : job }, () => `synced ${label}`);
}

/** The upload: one archive as it is, or the DAG files of a folder named by their path inside it. */
function collect(target: string): { inputs: DagFileInput[]; skipped: string[] } {
  let stats;
  try {
    stats = statSync(target);
  } catch {
    throw usageError(`${target}: no such file or folder`);
  }
  if (stats.isFile()) {
    if (!ARCHIVE.test(target)) throw usageError(`${target}: upload a folder of DAG files, or a .zip / .tar.gz bundle`);
    return { inputs: [{ name: path.basename(target), data: readFileSync(target) }], skipped: [] };
  }
  const inputs: DagFileInput[] = [];
  const skipped: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      const relative = path.relative(target, full).split(path.sep).join('/');
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name) && !(entry.name.startsWith('.') && entry.name !== '.')) walk(full);
      } else if (entry.isFile() && (DAG_NAMES.has(entry.name) || DAG_EXTENSIONS.includes(path.extname(entry.name).toLowerCase()))) {
        inputs.push({ name: relative, data: readFileSync(full) });
      } else {
        skipped.push(relative);
      }
    }
  };
  walk(target);
  if (inputs.length === 0) throw usageError(`${target}: no DAG files (.py, .sql, …) in this folder`);
  return { inputs, skipped };
}
