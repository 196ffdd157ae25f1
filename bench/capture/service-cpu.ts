/**
 * CPU seconds spent by the services on this machine, for CPU per row figures that do not depend on
 * the machine's load: the PostgreSQL cluster, split by what its processes do, and this clone's
 * Kafka broker. Services this process cannot see (elsewhere, another user's) count as null.
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

function title(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** What a PostgreSQL process does, from its title ("postgres: <cluster>: <user> <database> <client> <state>"). */
export type PostgresRole = 'walsender' | 'target' | 'legacy' | 'background';

/** The cluster's CPU seconds: its live processes one by one, and those that exited (reaped by the postmaster). */
interface ClusterCpu {
  reaped: number;
  live: Map<number, { role: PostgresRole; seconds: number }>;
}

function clusterCpu(postmaster: number, roleOf: (title: string) => PostgresRole): ClusterCpu | null {
  const main = stat(postmaster);
  if (!main) return null;
  const live = new Map<number, { role: PostgresRole; seconds: number }>();
  live.set(postmaster, { role: 'background', seconds: main.own });
  for (const pid of pids()) {
    const child = stat(pid);
    if (child?.parent === postmaster) live.set(pid, { role: roleOf(title(pid)), seconds: child.own });
  }
  return { reaped: main.children, live };
}

function kafkaPid(): number | null {
  const config = join(ROOT, '.tandem', 'kafka', 'server.properties');
  for (const pid of pids()) {
    if (title(pid).split(' ').includes(config)) return pid;
  }
  return null;
}

/**
 * CPU seconds between two readings. PostgreSQL's: per role of the processes alive at the second
 * reading, and `exited` for the sessions that ended in between (the writers' own, when they close
 * before it).
 */
export interface ServiceCpu {
  postgres: number | null;
  postgresByRole: Record<PostgresRole | 'exited', number> | null;
  kafka: number | null;
}

/** Starts counting the services' CPU; `session` is any connection to the cluster, `targetDatabase` the projection's. */
export async function serviceCpuCounter(session: Client, targetDatabase: string): Promise<() => ServiceCpu> {
  const backend = Number((await session.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  const postmaster = stat(backend)?.parent ?? null;
  const roleOf = (text: string): PostgresRole =>
    text.includes(' walsender ') ? 'walsender' : text.includes(` ${targetDatabase} `) ? 'target' : text.includes(' legacy ') ? 'legacy' : 'background';
  const kafka = kafkaPid();
  const kafkaBefore = kafka === null ? null : (stat(kafka)?.own ?? null);
  const before = postmaster === null ? null : clusterCpu(postmaster, roleOf);
  return () => {
    const after = postmaster === null ? null : clusterCpu(postmaster, roleOf);
    const kafkaAfter = kafka === null ? null : (stat(kafka)?.own ?? null);
    let postgresByRole: ServiceCpu['postgresByRole'] = null;
    if (before && after) {
      const byRole = { walsender: 0, target: 0, legacy: 0, background: 0, exited: 0 };
      let liveBefore = 0;
      for (const { seconds } of before.live.values()) liveBefore += seconds;
      let stillLiveBefore = 0;
      for (const [pid, { role, seconds }] of after.live) {
        const earlier = before.live.get(pid)?.seconds ?? 0;
        stillLiveBefore += earlier;
        byRole[role] += seconds - earlier;
      }
      // processes gone since the first reading: their time moved into the postmaster's reaped time
      byRole.exited = after.reaped - before.reaped - (liveBefore - stillLiveBefore);
      postgresByRole = byRole;
    }
    return {
      postgres: postgresByRole && Object.values(postgresByRole).reduce((sum, seconds) => sum + seconds, 0),
      postgresByRole,
      kafka: kafkaBefore === null || kafkaAfter === null ? null : kafkaAfter - kafkaBefore,
    };
  };
}
