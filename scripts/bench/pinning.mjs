// Where the benchmark's processes run. On a small machine the scheduler moving the server and the load
// generator between cores (and waking one on the other's core) changes req/s by more than most changes
// being measured. On this project's 2-core machine (4 runs of 3 s each, SQLite), unpinned: /healthz
// 15.2k → 24.0k req/s, climbing run after run, key-me 11.1k → 19.2k; pinned: /healthz 11.9k–12.9k, key-me
// 10.0k–10.6k. Unpinned is faster (the two sometimes share a core) but its ratios do not hold from one run
// to the next. So by default every server process runs on CPU 0 and the load
// generator on CPU 1 (taskset); the database server is left where the scheduler puts it.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** The CPUs for the servers and for the load generator, or nulls (and why) when nothing is pinned. */
export function pinningPlan(wanted) {
  if (!wanted) return { server: null, loader: null, note: 'not pinned (--pin off)' };
  if (os.availableParallelism() < 2) return { server: null, loader: null, note: 'not pinned (one CPU)' };
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
  } catch {
    return { server: null, loader: null, note: 'not pinned (taskset unavailable)' };
  }
  return { server: '0', loader: '1', note: 'servers pinned to CPU 0 and the load generator to CPU 1 (taskset); the database server unpinned' };
}

/** `command args` run on `cpus` (taskset execs it: the process id stays the command's). */
export function onCpus(cpus, command, args) {
  return cpus === null ? { command, args } : { command: 'taskset', args: ['-c', cpus, command, ...args] };
}
