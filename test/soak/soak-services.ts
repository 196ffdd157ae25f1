import { execFile } from 'child_process';
import { resolve } from 'path';
import { promisify } from 'util';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');
const SERVICES_ROOT = resolve(ROOT, '.tandem', 'soak');
const PG_CTL = '/usr/lib/postgresql/15/bin/pg_ctl';

/**
 * The soak's own PostgreSQL clusters and Kafka broker, started by scripts/services.sh under
 * .tandem/soak on ports of their own: the soak kills and restarts them, so it never touches the
 * shared services other tests use. Legacy and target are separate clusters, so that restarting one
 * is a different fault from restarting the other.
 */
export interface SoakCluster {
  name: 'legacy' | 'target';
  port: number;
  dir: string;
}

// Ports: TANDEM_SOAK_LEGACY_PORT, TANDEM_SOAK_TARGET_PORT, TANDEM_SOAK_KAFKA_PORT and
// TANDEM_SOAK_KAFKA_CONTROLLER_PORT override the defaults (a cluster's nodes 2 and 3 take the four
// ports after the controller port, as scripts/services.sh assigns them).
const portFromEnv = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

export const SOAK_LEGACY: SoakCluster = {
  name: 'legacy',
  port: portFromEnv('TANDEM_SOAK_LEGACY_PORT', 56432),
  dir: resolve(SERVICES_ROOT, 'legacy'),
};
export const SOAK_TARGET: SoakCluster = {
  name: 'target',
  port: portFromEnv('TANDEM_SOAK_TARGET_PORT', 56433),
  dir: resolve(SERVICES_ROOT, 'target'),
};
/** One broker, or (useKafkaCluster) a three-broker cluster. */
export const SOAK_KAFKA = {
  port: portFromEnv('TANDEM_SOAK_KAFKA_PORT', 60092),
  controllerPort: portFromEnv('TANDEM_SOAK_KAFKA_CONTROLLER_PORT', 60093),
  dir: SERVICES_ROOT,
  nodes: 1,
};
export function useKafkaCluster(): void {
  SOAK_KAFKA.nodes = 3;
}

export const clusterUrl = (cluster: SoakCluster, database: string) =>
  `postgres://tandem:tandem@127.0.0.1:${cluster.port}/${database}`;
export const soakBrokers = () =>
  Array.from(
    { length: SOAK_KAFKA.nodes },
    (_, i) => `127.0.0.1:${i === 0 ? SOAK_KAFKA.port : SOAK_KAFKA.controllerPort + 2 * i - 1}`,
  );

/** scripts/services.sh with the soak's locations; never the shared services' variables. */
async function services(env: Record<string, string>, ...args: string[]): Promise<void> {
  const base = { ...process.env };
  delete base.TANDEM_SOURCE_URL;
  delete base.TANDEM_TARGET_URL;
  delete base.TANDEM_KAFKA_BROKERS;
  await run('bash', [resolve(ROOT, 'scripts/services.sh'), ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    maxBuffer: 16 << 20,
  });
}

const pgEnv = (cluster: SoakCluster) => ({
  TANDEM_SERVICES_DIR: cluster.dir,
  TANDEM_PG_PORT: String(cluster.port),
});
const kafkaEnv = () => ({
  TANDEM_SERVICES_DIR: SOAK_KAFKA.dir,
  TANDEM_KAFKA_PORT: String(SOAK_KAFKA.port),
  TANDEM_KAFKA_CONTROLLER_PORT: String(SOAK_KAFKA.controllerPort),
  TANDEM_KAFKA_BROKERS_COUNT: String(SOAK_KAFKA.nodes),
});

/**
 * Starts the broker(s) that are not running and waits until they serve. A node may fail to bind its
 * port when that port lies in the kernel's ephemeral range (ip_local_port_range, 32768-60999 here)
 * and the other nodes' reconnect attempts to it briefly connected to themselves on it (a TCP
 * self-connect): such a start is tried again, three times at most.
 */
export async function startSoakKafka(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await services(kafkaEnv(), 'start', 'kafka');
    } catch (error) {
      const { message, stdout, stderr } = error as Error & { stdout?: string; stderr?: string };
      const output = `${message}\n${stdout ?? ''}\n${stderr ?? ''}`;
      if (attempt >= 3 || !/exited during startup/.test(output)) throw error;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

export async function startSoakServices(): Promise<void> {
  await services(pgEnv(SOAK_LEGACY), 'start', 'pg');
  await services(pgEnv(SOAK_TARGET), 'start', 'pg');
  await startSoakKafka();
}

/** `pg_ctl restart -m immediate`: the server is killed without a checkpoint and recovers from WAL. */
export async function restartPostgresImmediate(cluster: SoakCluster): Promise<void> {
  const data = resolve(cluster.dir, 'pg', 'data');
  const log = resolve(cluster.dir, 'pg', 'log', 'postgres.log');
  const asOwner = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', PG_CTL]] : [PG_CTL, []];
  const [command, prefix] = asOwner as [string, string[]];
  await run(command, [...prefix, '-D', data, '-l', log, '-m', 'immediate', '-w', '-t', '120', 'restart'], {
    cwd: '/',
  });
}

/** kill -9 of the broker, then a start: it recovers its logs and transaction state. */
export async function killAndRestartKafka(): Promise<void> {
  const { readFileSync } = await import('fs');
  const pid = Number(readFileSync(resolve(SOAK_KAFKA.dir, 'kafka', 'kafka.pid'), 'utf8').trim());
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await services(kafkaEnv(), 'start', 'kafka');
}
