// How much of the machine other processes (or the hypervisor) took during a run. On a 2-core machine a
// parallel build or test run halves the numbers; this says so next to them instead of leaving the reader
// to guess. Linux only (/proc); elsewhere it reports nothing.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const TICKS_PER_SECOND = 100; // USER_HZ, fixed at 100 on Linux for /proc

function machineBusySeconds() {
  const [user, nice, system, , , , , steal] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  // Interrupt time is left out: on loopback it is mostly our own traffic, and no process is charged for it.
  // Steal stays in: time the hypervisor gave to another machine disturbs the numbers just the same.
  return (user + nice + system + steal) / TICKS_PER_SECOND;
}

export function processCpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU seconds of several processes together: every server process of one deployment. */
export function processesCpuSeconds(pids) {
  return pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
}

/**
 * PostgreSQL backends serving one database: their title reads `postgres: [<cluster>: ]<user> <database>
 * <client> <state>`; the scratch database's name is unique enough to look for as a word.
 */
function backendCpuSeconds(database) {
  const seconds = new Map();
  if (database === null) return seconds;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (title.startsWith('postgres: ') && title.replaceAll('\0', ' ').split(/\s+/).includes(database)) seconds.set(entry, processCpuSeconds(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return seconds;
}

/**
 * Starts a window; `end(loaderCpuSeconds)` returns `other`, the share of all cores used by anything but the
 * bench (the server processes `serverPids`, the PostgreSQL backends of their database (`pgDatabase`), the
 * loader and this process), and `server`, the cores the server processes and their backends kept busy
 * together (1.0 = one core all the time: a single server well below it was waiting on the loader, not the
 * other way round).
 */
export function startCpuWindow(serverPids, pgDatabase = null) {
  let start;
  try {
    start = { wall: Date.now(), busy: machineBusySeconds(), server: processesCpuSeconds(serverPids), backends: backendCpuSeconds(pgDatabase), self: process.cpuUsage() };
  } catch {
    return { end: () => ({ other: null, server: null, serverSeconds: null }) };
  }
  return {
    end(loaderCpuSeconds) {
      try {
        const wall = (Date.now() - start.wall) / 1000;
        const busy = machineBusySeconds() - start.busy;
        let server = processesCpuSeconds(serverPids) - start.server;
        // A backend that started during the window counts from zero; one that ended is lost (counted as other).
        for (const [pid, seconds] of backendCpuSeconds(pgDatabase)) server += seconds - (start.backends.get(pid) ?? 0);
        const self = process.cpuUsage(start.self);
        const ours = server + loaderCpuSeconds + (self.user + self.system) / 1e6;
        return {
          other: Math.max(0, Math.round(((busy - ours) / (wall * os.cpus().length)) * 1000) / 1000),
          server: Math.round((server / wall) * 1000) / 1000,
          serverSeconds: server,
        };
      } catch {
        return { other: null, server: null, serverSeconds: null };
      }
    },
  };
}
