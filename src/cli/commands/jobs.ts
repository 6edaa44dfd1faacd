import { usageError } from '../errors.js';
import { DEFAULT_WAIT_SECONDS } from '../follow.js';
import { parse, session, wholeNumber, type Io } from '../io.js';
import { resolveId } from '../resolve.js';

export async function jobs(io: Io, args: string[]): Promise<void> {
  const [sub = '', ...rest] = args;
  if (sub === 'wait') return wait(io, rest);
  throw usageError(sub ? `unknown command "jobs ${sub}"` : 'jobs needs a command: wait');
}

/** `skaledata jobs wait <id>`: the job's steps as they happen; exit 0 when it succeeded, 5 when it failed or was canceled. */
async function wait(io: Io, args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { timeout: { type: 'string' } }, { min: 1, max: 1, names: 'the job id (job_…)' });
  const id = positionals[0] ?? '';
  const timeout = wholeNumber(values.timeout, '--timeout', 1, 86_400) ?? DEFAULT_WAIT_SECONDS;
  const { client, out } = session(io, values);
  const job = await client.waitForJob(id, {
    timeoutMs: timeout * 1000,
    intervalMs: 500,
    onStep: (step, current) => {
      const index = current.steps.findIndex((item) => item.name === step.name) + 1;
      out.progress(`[${index}/${current.steps.length}] ${step.name}: ${step.status}`, !['pending', 'running'].includes(step.status));
    },
  });
  out.result(job, () => `job ${job.id} (${job.type}) succeeded`);
}

/** `skaledata logs <cluster> <pod> [--follow] [--tail N]`: lines on stdout (one JSON object per line with --json). */
export async function logs(io: Io, args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { follow: { type: 'boolean', short: 'f' }, tail: { type: 'string' } }, { min: 2, max: 2, names: 'the cluster (id or name) and the pod' });
  const tail = wholeNumber(values.tail, '--tail', 0, 10_000);
  const { client } = session(io, values);
  const clusterId = await resolveId(client, 'cluster', positionals[0] ?? '');
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  try {
    const lines = client.podLogs(clusterId, positionals[1] ?? '', { ...(tail === undefined ? {} : { tail }), follow: values.follow ?? false, signal: controller.signal });
    for await (const line of lines) io.stdout.write(values.json ? `${JSON.stringify({ line })}\n` : `${line}\n`);
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    process.off('SIGINT', stop);
  }
}
