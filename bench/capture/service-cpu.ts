/**
 * CPU seconds spent by the services on this machine, for CPU per row figures that do not depend on
 * the machine's load: the PostgreSQL cluster (every backend, walsender and worker, the exited ones
 * included through the postmaster's reaped-children time) and this clone's Kafka broker.
 * Services this process cannot see (elsewhere, another user's) count as null.
 */
import { readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import type { Client } from 'pg';
import { CLOCK_TICKS, ROOT } from './support';

/** utime, stime, cutime, cstime (fields 14–17) and the parent pid (field 4) of a process. */
function stat(pid: number): { own: number; children: number; parent: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
    return {
      own: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS,
      children: (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS,
      parent: Number(fields[1]),
    };
  } catch {
    return null;
  }
}

const pids = () => readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);

function clusterCpuSeconds(postmaster: number): number | null {
  const main = stat(postmaster);
  if (!main) return null;
  let total = main.own + main.children;
  for (const pid of pids()) {
    const child = stat(pid);
    if (child?.parent === postmaster) total += child.own;
  }
  return total;
}

function kafkaPid(): number | null {
  const config = join(ROOT, '.tandem', 'kafka', 'server.properties');
  for (const pid of pids()) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(config)) return pid;
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

export interface ServiceCpu {
  postgres: number | null;
  kafka: number | null;
}

/** Reads the services' CPU seconds so far; `session` is any connection to the PostgreSQL cluster. */
export async function serviceCpuReader(session: Client): Promise<() => ServiceCpu> {
  const backend = Number((await session.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  const postmaster = stat(backend)?.parent ?? null;
  const kafka = kafkaPid();
  return () => ({
    postgres: postmaster === null ? null : clusterCpuSeconds(postmaster),
    kafka: kafka === null ? null : (stat(kafka)?.own ?? null),
  });
}
