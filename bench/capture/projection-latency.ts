/**
 * Commit → projection row visible, through `tandem capture` and `tandem project --projection users`
 * (part `e2e` of bench:capture). Single-row INSERT transactions into a legacy `auth_users` at a
 * steady rate; a DEFERRED constraint trigger on the target's users.users, which fires when the
 * projector's transaction commits, stores clock_timestamp() − created_at per row. created_at is the
 * legacy row's `now()` (its one-statement transaction's start, a few ms before its commit), so
 * each figure slightly overstates the latency. Both databases are on this machine's clock.
 */
import { loadavg } from 'os';
import { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import { env, sql } from '../../test/support/services';
import { writeConfig } from '../../test/support/capture-process';
import { createTargetDatabase } from '../../test/support/target-db';
import { Capture, log, percentile, seconds, sleep } from './support';
import { serviceCpuCounter } from './service-cpu';
import { Projector, cleanUp, waitForGroup } from '../project/support';
import { fmt } from '../cli-args';
import { projectionGroup } from '../../src/contracts/names';

const ARRIVALS = `
  CREATE TABLE public.bench_arrivals (email text PRIMARY KEY, latency_ms double precision NOT NULL, xact bigint NOT NULL,
    created_at timestamptz NOT NULL);
  CREATE FUNCTION public.bench_arrival() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO public.bench_arrivals
      VALUES (NEW.email, extract(epoch FROM clock_timestamp() - NEW.created_at) * 1000, txid_current(), NEW.created_at)
      ON CONFLICT DO NOTHING;
    RETURN NULL;
  END $$;
  CREATE CONSTRAINT TRIGGER bench_arrival AFTER INSERT ON users.users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.bench_arrival();`;

/** Takes the warm-up's rows (the writers' first $1, by the index in their email) out of the measure. */
const WARMUP_ROWS_REMOVED = `
  DELETE FROM public.bench_arrivals WHERE split_part(substr(email, 2), '.', 1)::int < $1 RETURNING latency_ms`;

/**
 * Single-row INSERT transactions the application would make, each one a session's own commit.
 * node-postgres sends a session's next statement only when the previous one has answered, and each
 * commit waits for its WAL flush (about 2 ms here), so one session makes ~500 transactions/s at
 * most: the writers get one session per 250 transactions/s asked (4 at least), and the many
 * concurrent commits share WAL flushes (PostgreSQL's group commit) as a busy application's do.
 */
const writerSessions = (rate: number) => Math.max(4, Math.ceil(rate / 250));

/** INSERTs of one row each, `rate` per second for `duration` seconds, over `writerSessions(rate)` connections. */
async function steadyUsers(table: string, rate: number, duration: number, runId: string, connections = writerSessions(rate)) {
  const total = Math.round(rate * duration);
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new Client({ connectionString: env.sourceUrl() });
      await client.connect();
      return client;
    }),
  );
  const start = Date.now() + 100;
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      for (let i = next++; i < total; i = next++) {
        const wait = start + (i * 1000) / rate - Date.now();
        if (wait > 0) await sleep(wait);
        await client.query(`INSERT INTO ${table} (id, email) VALUES (gen_random_uuid()::text, $1)`, [
          `u${i}.${runId}@example.com`,
        ]);
      }
    }),
  );
  const elapsed = seconds(Date.now() - start);
  await Promise.all(clients.map((client) => client.end()));
  return { rows: total, seconds: elapsed, rate: total / elapsed, writerSessions: connections };
}

/**
 * Where the slowest 1 % of rows were written: in how many of the run's 100-ms windows, and how many of
 * them the worst window holds. A few windows holding them all is a stall somewhere on the path (a
 * pause of one process, a flush); many windows is a wait every row risks (a batch or fetch cycle).
 */
async function slowestPercent(poll: Client) {
  const { rows } = await poll.query(`
    WITH slow AS (
      SELECT created_at, latency_ms FROM public.bench_arrivals
      WHERE latency_ms >= (SELECT percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) FROM public.bench_arrivals))
    SELECT (floor(extract(epoch FROM created_at - (SELECT min(created_at) FROM public.bench_arrivals)) * 10) / 10)::float8 AS at_s,
           count(*)::int AS rows, max(latency_ms) AS worst_ms
    FROM slow GROUP BY 1 ORDER BY 1`);
  const windows = rows as Array<{ at_s: number; rows: number; worst_ms: number }>;
  const first = await poll.query('SELECT extract(epoch FROM min(created_at))::float8 AS at FROM public.bench_arrivals');
  return {
    firstRowWrittenAt: new Date(first.rows[0].at * 1000).toISOString(),
    slowestRows: windows.reduce((sum, w) => sum + w.rows, 0),
    slowestWindows: windows.length,
    slowestInWorstWindow: Math.max(0, ...windows.map((w) => w.rows)),
    // each window: seconds from the first row written, its slow rows, the slowest of them
    slowestByWindow: windows,
  };
}

/**
 * The first `warmup` seconds of writes are not measured (their p50 / p99 are reported apart): the
 * pipeline goes from idle to the full rate at once, and its first seconds show as a stall that a
 * steady rate does not have (probably code not yet optimized by the JIT, buffers growing, the
 * projector's first fetches). `nodeOptions` go to both children (`--cpu-prof`: a profile of each at that rate).
 */
export async function projectionLatency(kafka: Kafka, rate: number, duration: number, warmup: number, nodeOptions: string[] = []) {
  const base = `bench_e2e_${Date.now().toString(36)}`;
  const schema = base;
  const target = await createTargetDatabase('bench_e2e');
  const part = { prefixes: [base], slot: base, publication: base, schema, databases: [target] };
  let capture: Capture | null = null;
  let projector: Projector | null = null;
  try {
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.auth_users (id text PRIMARY KEY, email text NOT NULL, display_name text,
               instance_name text, raw_user_meta_data jsonb, encrypted_password text, created_at timestamptz NOT NULL DEFAULT now())`);
    const config = writeConfig({
      prefix: base,
      slot: base,
      publication: base,
      tables: [`${schema}.auth_users`],
      targetUrl: target.url,
      projections: [{ recipe: 'users', sourceSchema: schema }],
    });
    capture = new Capture(config, nodeOptions);
    await capture.waitStreaming();
    projector = new Projector(config, 'users', nodeOptions);
    await projector.waitReady();
    await waitForGroup(kafka, projectionGroup(base, 'users'));
    const poll = new Client({ connectionString: target.url });
    await poll.connect();
    try {
      await poll.query(ARRIVALS);
      await sql(`INSERT INTO ${schema}.auth_users (id, email) VALUES (gen_random_uuid()::text, 'warm-up@example.com')`);
      const arrived = async () =>
        Number((await poll.query('SELECT count(*) AS n FROM public.bench_arrivals')).rows[0].n);
      while ((await arrived()) < 1) await sleep(100);
      await poll.query('TRUNCATE public.bench_arrivals');
      log(`e2e: ${fmt(rate)} single-row transactions/s for ${warmup} s (warm-up, not measured) + ${duration} s, commit → users.users row`);
      const serviceCpu = await serviceCpuCounter(poll, new URL(target.url).pathname.slice(1));
      const writersBefore = process.cpuUsage();
      const cpuBefore = { capture: capture.stats().cpuSeconds, projector: projector.stats().cpuSeconds };
      const loadBefore = loadavg()[0];
      const writes = await steadyUsers(`${schema}.auth_users`, rate, warmup + duration, base);
      const writersUsage = process.cpuUsage(writersBefore);
      log(`e2e: writers reached ${fmt(writes.rate)} transactions/s (${fmt(rate)} asked) over ${writes.writerSessions} sessions`);
      let seen = -1;
      let progressAt = Date.now();
      for (let n = await arrived(); n < writes.rows; n = await arrived()) {
        if (!projector.running) throw new Error(`the projector exited:\n${projector.tail()}`);
        if (n !== seen) [seen, progressAt] = [n, Date.now()];
        if (Date.now() - progressAt > 120_000)
          throw new Error(`e2e: ${n}/${writes.rows} rows after 120 s without progress:\n${projector.tail()}`);
        await sleep(200);
      }
      const warmupLatencies = (await poll.query(WARMUP_ROWS_REMOVED, [Math.round(rate * warmup)])).rows
        .map((row: { latency_ms: number }) => row.latency_ms)
        .sort((a: number, b: number) => a - b);
      const latencies = (await poll.query('SELECT latency_ms FROM public.bench_arrivals ORDER BY latency_ms')).rows.map(
        (row: { latency_ms: number }) => row.latency_ms,
      );
      // How many target transactions carried the rows: a count that does not depend on the machine's load.
      const targetTransactions = Number(
        (await poll.query('SELECT count(DISTINCT xact) AS n FROM public.bench_arrivals')).rows[0].n,
      );
      const tail = await slowestPercent(poll);
      const stats = projector.stats();
      const services = serviceCpu();
      const perThousand = (cpuSeconds: number) => (cpuSeconds * 1000 * 1000) / writes.rows;
      const orNull = (cpuSeconds: number | null) => (cpuSeconds === null ? null : perThousand(cpuSeconds));
      return {
        ...writes,
        loadAverage: [loadBefore, loadavg()[0]],
        // CPU ms per 1,000 rows, writes to last arrival (each row is one change event)
        captureCpuMsPerThousand: perThousand(capture.stats().cpuSeconds - cpuBefore.capture),
        projectorCpuMsPerThousand: perThousand(stats.cpuSeconds - cpuBefore.projector),
        // the bench's own process while it writes: the application's client side
        writersCpuMsPerThousand: perThousand((writersUsage.user + writersUsage.system) / 1e6),
        postgresCpuMsPerThousand: orNull(services.postgres),
        // walsender: logical decoding for capture; target: the projector's sessions; exited: the writers' sessions
        postgresCpuMsPerThousandByRole: services.postgresByRole && Object.fromEntries(Object.entries(services.postgresByRole).map(([role, cpuSeconds]) => [role, perThousand(cpuSeconds)])),
        kafkaCpuMsPerThousand: orNull(services.kafka),
        measuredRows: latencies.length,
        warmupSeconds: warmup,
        warmupP50: percentile(warmupLatencies, 50),
        warmupP99: percentile(warmupLatencies, 99),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies[latencies.length - 1],
        ...tail,
        projectorPeakRssMb: stats.peakRssMb,
        targetTransactions,
        rowsPerTargetTransaction: writes.rows / targetTransactions,
      };
    } finally {
      await poll.end();
    }
  } finally {
    await projector?.stop();
    await capture?.stop();
    await cleanUp(kafka, part);
  }
}
