/**
 * Tandem and Debezium side by side (not a test: nothing here asserts a timing). Both capture the
 * same tables of their own database (bench_peer_legacy) into the same Kafka broker, each with its
 * own slot, publication and topic prefix; A = `tandem capture`, B = Debezium's embedded engine
 * (DebeziumHarness.java), alternated A B A B.
 *
 *   npm run bench:peer-debezium -- [--rows 1000000] [--docs 20000] [--reps 2] [--rate 5000]
 *                                  [--seconds 20] [--writers 12] [--parts inserts,jsonb,pgbench,latency] [--cpu-prof]
 *
 * Catch-up parts (inserts, jsonb, pgbench): both slots are created (each system started until it
 * streams, then stopped) before the load is written, so both decode the same WAL; then each is
 * started again and timed from the moment it streams ("streaming changes" / Debezium's task
 * started) until a read_committed consumer has every event of the table topic(s).
 * latency: single-row inserts at a steady rate while one system streams; Kafka record timestamp −
 * source.ts_ms per event. --cpu-prof runs Tandem's catch-ups under `node --cpu-prof` (.tandem/prof).
 */
import { execFileSync, spawn } from 'child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import { testKafka } from '../../test/support/services';
import {
  Capture,
  PG_BIN,
  ROOT,
  TopicCounter,
  log,
  machine,
  percentile,
  procStats,
  seconds,
  sleep,
} from '../capture/support';
import { formatTop, topSelfTime } from '../capture/profile';
import { DebeziumChild, installDebezium, javaVersion, removeDebeziumOffsets } from './debezium-child';
import { DEBEZIUM_VERSION } from './versions';
import { stringify } from 'yaml';
import { tmpdir } from 'os';
import { arg, flag, fmt, profileDir } from '../cli-args';

const options = {
  rows: Number(arg('rows', '1000000')),
  docs: Number(arg('docs', '20000')),
  reps: Number(arg('reps', '2')),
  rate: Number(arg('rate', '5000')),
  writers: Number(arg('writers', '12')),
  seconds: Number(arg('seconds', '20')),
  pgbenchSeconds: Number(arg('pgbench-seconds', '60')),
  parts: new Set(arg('parts', 'inserts,jsonb,pgbench,latency').split(',')),
  cpuProf: flag('cpu-prof'),
};
const DATABASE = 'bench_peer_legacy';
const PROF_DIR = profileDir(ROOT);

// ------------------------------------------------------------------ the benchmark's own database
const baseUrl = process.env.TANDEM_SOURCE_URL!;
const benchUrl = (() => {
  const url = new URL(baseUrl);
  url.pathname = `/${DATABASE}`;
  return url.toString();
})();

async function query(text: string, values: unknown[] = [], url = benchUrl) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function ensureDatabase(): Promise<void> {
  const exists = await query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE], baseUrl);
  if (exists.length === 0) await query(`CREATE DATABASE "${DATABASE}"`, [], baseUrl);
  process.env.TANDEM_SOURCE_URL = benchUrl; // Debezium's properties and Tandem's config read it
}

// ------------------------------------------------------------------ the two systems
type System = 'tandem' | 'debezium';

interface Names {
  slot: string;
  publication: string;
  prefix: string;
}

const namesFor = (base: string, system: System): Names => ({
  slot: `${base}_${system[0]}`,
  publication: `${base}_${system[0]}pub`,
  prefix: `${base}_${system[0]}`,
});

function tandemConfig(n: Names, tables: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tandem-peer-')), 'tandem.yaml');
  writeFileSync(
    file,
    stringify({
      // Like Debezium's snapshot.mode=no_data: only the changes written after the slot was created.
      source: {
        url: benchUrl,
        publication: n.publication,
        slot: n.slot,
        tables,
        snapshot: { mode: 'never' },
      },
      kafka: { brokers: process.env.TANDEM_KAFKA_BROKERS!.split(','), topicPrefix: n.prefix, partitions: 3 },
    }),
  );
  return file;
}

/** A running capture of either system, with what the measurements need. */
interface Running {
  pid: number;
  readyAt: number;
  spawnedAt: number;
  atReady: ReturnType<typeof procStats>;
  running: () => boolean;
  tail: () => string;
  stop: () => Promise<void>;
}

async function start(
  system: System,
  n: Names,
  tables: string[],
  nodeOptions: string[] = [],
): Promise<Running> {
  if (system === 'tandem') {
    const capture = new Capture(tandemConfig(n, tables), nodeOptions);
    await capture.waitReady(600_000).catch(async (error) => {
      await capture.stop().catch(() => undefined);
      throw error;
    });
    return {
      pid: capture.pid,
      readyAt: capture.streamingAt,
      spawnedAt: capture.spawnedAt,
      atReady: capture.atStreaming!,
      running: () => capture.running,
      tail: () => capture.tail(),
      stop: () => capture.stop(),
    };
  }
  const debezium = new DebeziumChild({ ...n, tables, snapshotMode: 'no_data' });
  try {
    await debezium.waitReady(600_000);
    await debezium.waitStreaming(600_000);
  } catch (error) {
    await debezium.stop();
    throw error;
  }
  return {
    pid: debezium.pid,
    readyAt: debezium.readyAt,
    spawnedAt: debezium.spawnedAt,
    atReady: debezium.atReady!,
    running: () => debezium.running,
    tail: () => debezium.tail(),
    stop: () => debezium.stop(),
  };
}

async function createTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length)
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 3 })) });
  } finally {
    await admin.disconnect();
  }
}

async function cleanUp(kafka: Kafka, base: string): Promise<void> {
  for (const system of ['tandem', 'debezium'] as System[]) {
    const n = namesFor(base, system);
    await query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
      n.slot,
    ]).catch((e) => log(`drop slot ${n.slot}: ${e.message}`));
    await query(`DROP PUBLICATION IF EXISTS "${n.publication}"`).catch(() => undefined);
    if (system === 'debezium') removeDebeziumOffsets(n.slot);
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(
      (t) => t.startsWith(`${base}_t.`) || t.startsWith(`${base}_d.`) || t === `__tandem_heartbeat.${base}_t`,
    );
    await admin.deleteTopics({ topics }).catch((e) => log(`delete topics: ${e.message}`));
    await admin.deleteGroups([`tandem-capture-position.${base}_t.${base}_t`]).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

// ------------------------------------------------------------------ catch-up
interface Workload {
  name: string;
  /** Tables ("schema.table") captured. */
  tables: (base: string) => string[];
  setup: (base: string) => Promise<void>;
  /** Writes the load and returns the number of events it produces per table topic. */
  load: (base: string) => Promise<Record<string, number>>;
  teardown: (base: string) => Promise<void>;
}

interface CatchUpRun {
  system: System;
  rep: number;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  startupSeconds: number;
  peakRssMb: number;
  cpuSecondsPerMillion: number;
  kafkaValueBytes: number;
}

async function catchUp(
  kafka: Kafka,
  workload: Workload,
): Promise<{ runs: CatchUpRun[]; load: Record<string, number> }> {
  const runs: CatchUpRun[] = [];
  let lastLoad: Record<string, number> = {};
  for (let rep = 1; rep <= options.reps; rep++) {
    const base = `peer_${workload.name}_${rep}_${Date.now().toString(36)}`;
    const tables = workload.tables(base);
    try {
      await workload.setup(base);
      for (const system of ['tandem', 'debezium'] as System[]) {
        log(`${workload.name} #${rep}: creating ${system}'s slot`);
        const first = await start(system, namesFor(base, system), tables);
        await first.stop();
      }
      log(`${workload.name} #${rep}: writing the load`);
      const loadStart = Date.now();
      const perTable = await workload.load(base);
      lastLoad = perTable;
      log(
        `${workload.name} #${rep}: load written in ${seconds(Date.now() - loadStart).toFixed(1)} s: ${JSON.stringify(perTable)}`,
      );
      for (const system of ['tandem', 'debezium'] as System[]) {
        const n = namesFor(base, system);
        const topics = Object.keys(perTable).map((table) => `${n.prefix}.${table}`);
        await createTopics(kafka, topics);
        const counters = await Promise.all(topics.map((topic) => TopicCounter.start(kafka, topic)));
        const profiling = options.cpuProf && system === 'tandem';
        if (profiling) mkdirSync(PROF_DIR, { recursive: true });
        const profilesBefore = new Set(profiling ? readdirSync(PROF_DIR) : []);
        log(`${workload.name} #${rep}: ${system} catching up`);
        const capture = await start(
          system,
          n,
          tables,
          profiling ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : [],
        );
        const expected = Object.values(perTable);
        const doneAt = Math.max(
          ...(await Promise.all(
            counters.map((counter, i) => counter.waitFor(expected[i], capture.running, capture.tail)),
          )),
        );
        const end = procStats(capture.pid);
        await capture.stop();
        const bytes = counters.reduce((sum, c) => sum + c.bytes, 0);
        const events = counters.reduce((sum, c) => sum + c.count, 0);
        await Promise.all(counters.map((c) => c.stop()));
        const elapsed = seconds(doneAt - capture.readyAt);
        const run: CatchUpRun = {
          system,
          rep,
          events,
          seconds: elapsed,
          eventsPerSecond: events / elapsed,
          startupSeconds: seconds(capture.readyAt - capture.spawnedAt),
          peakRssMb: end.peakRssMb,
          cpuSecondsPerMillion: ((end.cpuSeconds - capture.atReady.cpuSeconds) / events) * 1e6,
          kafkaValueBytes: bytes,
        };
        runs.push(run);
        log(
          `${workload.name} #${rep}: ${system} ${fmt(run.eventsPerSecond)} events/s (${elapsed.toFixed(1)} s), ` +
            `peak RSS ${fmt(run.peakRssMb)} MiB, ${run.cpuSecondsPerMillion.toFixed(1)} CPU s per million events`,
        );
        if (profiling) {
          for (const file of readdirSync(PROF_DIR).filter((f) => !profilesBefore.has(f)))
            log(`profile ${file}:\n${formatTop(topSelfTime(join(PROF_DIR, file)))}`);
        }
      }
    } finally {
      await cleanUp(kafka, base);
      await workload.teardown(base).catch((e) => log(`teardown: ${e.message}`));
    }
  }
  return { runs, load: lastLoad };
}

// ------------------------------------------------------------------ workloads
const inserts: Workload = {
  name: 'inserts',
  tables: (base) => [`public.${base}`],
  setup: async (base) =>
    void (await query(
      `CREATE TABLE "${base}" (id bigint PRIMARY KEY, user_id text, amount numeric(38,10), note text, created_at timestamptz)`,
    )),
  load: async (base) => {
    const client = new Client({ connectionString: benchUrl });
    await client.connect();
    for (let lo = 1; lo <= options.rows; lo += 1000) {
      const hi = Math.min(lo + 999, options.rows);
      await client.query(
        `INSERT INTO "${base}" SELECT g, 'user_' || (g % 10000), g * 1.2345, md5(g::text), now() - g * interval '1 second' FROM generate_series(${lo}, ${hi}) g`,
      );
    }
    await client.end();
    return { [`public.${base}`]: options.rows };
  },
  teardown: async (base) => void (await query(`DROP TABLE IF EXISTS "${base}"`)),
};

/**
 * Shaped like the app-state recipe's user_app_state: one JSONB document per user, 4–20 KB, with
 * arrays of orgs, personas and contents (md5 text so that TOAST compression does not shrink it away).
 */
const jsonb: Workload = {
  name: 'jsonb',
  tables: (base) => [`public.${base}`],
  setup: async (base) =>
    void (await query(
      `CREATE TABLE "${base}" (id bigint PRIMARY KEY, user_id text NOT NULL, state jsonb NOT NULL, updated_at timestamptz NOT NULL)`,
    )),
  load: async (base) => {
    const client = new Client({ connectionString: benchUrl });
    await client.connect();
    const item = (kind: string) =>
      `jsonb_build_object('id', md5(g::text || '${kind}' || i), 'kind', '${kind}', 'title', '${kind} ' || i,
         'body', md5(i::text || g) || md5(g::text || i) || md5((g + i)::text), 'tags', jsonb_build_array('a' || (i % 7), 'b' || (g % 5)),
         'score', i * 1.5, 'active', (i % 2) = 0)`;
    // 17–79 items of ~250 bytes: about 4–20 KB per document.
    const items = (kind: string, share: number) =>
      `(SELECT coalesce(jsonb_agg(${item(kind)}), '[]'::jsonb) FROM generate_series(1, ((17 + (g * 7919) % 63) * ${share})::int) i)`;
    for (let lo = 1; lo <= options.docs; lo += 100) {
      const hi = Math.min(lo + 99, options.docs);
      await client.query(
        `INSERT INTO "${base}" SELECT g, 'user_' || g,
           jsonb_build_object('version', 2, 'orgs', ${items('org', 0.2)}, 'personas', ${items('persona', 0.3)},
                              'contents', ${items('content', 0.5)}, 'settings', jsonb_build_object('theme', 'dark', 'locale', 'en')),
           now()
         FROM generate_series(${lo}, ${hi}) g`,
      );
    }
    const {
      rows: [size],
    } = await client.query(
      `SELECT avg(octet_length(state::text))::int AS avg, min(octet_length(state::text)) AS min, max(octet_length(state::text)) AS max FROM "${base}"`,
    );
    log(`jsonb: document size avg ${size.avg} B, min ${size.min}, max ${size.max}`);
    await client.end();
    return { [`public.${base}`]: options.docs };
  },
  teardown: async (base) => void (await query(`DROP TABLE IF EXISTS "${base}"`)),
};

function pgbench(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const url = new URL(benchUrl);
    const child = spawn(
      join(PG_BIN, 'pgbench'),
      [...args, '-h', url.hostname, '-p', url.port, '-U', decodeURIComponent(url.username), DATABASE],
      {
        env: { ...process.env, PGPASSWORD: decodeURIComponent(url.password) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c) => (output += c.toString()));
    child.stderr.on('data', (c) => (output += c.toString()));
    child.on('exit', (code) =>
      code === 0
        ? resolvePromise(output)
        : reject(new Error(`pgbench ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

/** pgbench's TPC-B-like load; its tables live in a schema of their own per repetition. */
const pgbenchWorkload: Workload = {
  name: 'pgbench',
  tables: (base) => ['accounts', 'branches', 'tellers', 'history'].map((t) => `${base}.pgbench_${t}`),
  setup: async (base) => {
    await query(`CREATE SCHEMA "${base}"`);
    await query(`ALTER DATABASE "${DATABASE}" SET search_path = "${base}", public`);
    await pgbench(['-i', '-s', '10', '-q']);
    await query(`ALTER TABLE "${base}".pgbench_history REPLICA IDENTITY FULL`);
  },
  load: async (base) => {
    const before = await counts(base);
    const output = await pgbench(['-c', '4', '-j', '2', '-T', String(options.pgbenchSeconds), '-n']);
    log(
      `pgbench: ${/tps = [\d.]+ \(without initial connection time\)/.exec(output)?.[0] ?? output.slice(-300)}`,
    );
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(output)![1]);
    const after = await counts(base);
    // Each transaction: UPDATE accounts, SELECT, UPDATE tellers, UPDATE branches, INSERT history.
    return {
      [`${base}.pgbench_accounts`]: transactions,
      [`${base}.pgbench_tellers`]: transactions,
      [`${base}.pgbench_branches`]: transactions,
      [`${base}.pgbench_history`]: after - before,
    };
  },
  teardown: async (base) => {
    await query(`ALTER DATABASE "${DATABASE}" RESET search_path`);
    await query(`DROP SCHEMA IF EXISTS "${base}" CASCADE`);
  },
};

async function counts(base: string): Promise<number> {
  return Number((await query(`SELECT count(*) AS n FROM "${base}".pgbench_history`))[0].n);
}

// ------------------------------------------------------------------ latency at a steady rate
/**
 * Single-row insert transactions at a steady rate, written by pgbench's rate limiter (`-R`, a C
 * client: a Node writer on these two cores could not hold 5,000 commits/s beside the capture).
 */
async function steadyWrites(table: string, rate: number, duration: number, connections = options.writers) {
  await query(`CREATE SEQUENCE IF NOT EXISTS "${table}_ids"`);
  const script = join(mkdtempSync(join(tmpdir(), 'tandem-steady-')), 'insert.sql');
  writeFileSync(
    script,
    `INSERT INTO "${table}" VALUES (nextval('"${table}_ids"'), 'user_' || (random() * 10000)::int, ` +
      `random() * 1000, md5(random()::text), now());\n`,
  );
  const output = await pgbench([
    '-n',
    '-f',
    script,
    '-R',
    String(rate),
    '-T',
    String(duration),
    '-c',
    String(connections),
    '-j',
    '2',
  ]);
  const [{ rows }] = await query(`SELECT count(*)::int AS rows FROM "${table}"`);
  const lag = /average rate limit schedule lag: ([\d.]+) ms/.exec(output)?.[1];
  if (lag) log(`steady writes: pgbench schedule lag ${lag} ms on average`);
  return { rows: Number(rows), seconds: duration, rate: Number(rows) / duration };
}

interface LatencyRun {
  system: System;
  rep: number;
  rate: number;
  p50: number;
  p99: number;
  peakRssMb: number;
}

async function latency(kafka: Kafka): Promise<LatencyRun[]> {
  const runs: LatencyRun[] = [];
  for (let rep = 1; rep <= options.reps; rep++) {
    for (const system of ['tandem', 'debezium'] as System[]) {
      const base = `peer_latency_${rep}_${system[0]}_${Date.now().toString(36)}`;
      const tables = [`public.${base}`];
      try {
        await inserts.setup(base);
        const n = namesFor(base, system);
        const topic = `${n.prefix}.public.${base}`;
        await createTopics(kafka, [topic]);
        const capture = await start(system, n, tables);
        const latencies: number[] = [];
        const counter = await TopicCounter.start(kafka, topic, (timestamp, value) => {
          latencies.push(timestamp - JSON.parse(value.toString()).source.ts_ms);
        });
        await sleep(2000);
        log(
          `latency #${rep}: ${system}, ${fmt(options.rate)} single-row transactions/s for ${options.seconds} s`,
        );
        const writes = await steadyWrites(base, options.rate, options.seconds);
        await counter.waitFor(writes.rows, capture.running, capture.tail);
        const end = procStats(capture.pid);
        await capture.stop();
        await counter.stop();
        latencies.sort((a, b) => a - b);
        const run = {
          system,
          rep,
          rate: writes.rate,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          peakRssMb: end.peakRssMb,
        };
        log(`latency #${rep}: ${system} at ${fmt(run.rate)}/s: p50 ${run.p50} ms, p99 ${run.p99} ms`);
        runs.push(run);
      } finally {
        await cleanUp(kafka, base);
        await inserts.teardown(base);
        await query(`DROP SEQUENCE IF EXISTS "${base}_ids"`);
      }
    }
  }
  return runs;
}

// ------------------------------------------------------------------ report
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

function catchUpRows(name: string, runs: CatchUpRun[]): string[] {
  const of = (system: System, pick: (r: CatchUpRun) => number) =>
    median(runs.filter((r) => r.system === system).map(pick));
  const all = (system: System, pick: (r: CatchUpRun) => number, digits = 0) =>
    runs
      .filter((r) => r.system === system)
      .map((r) => fmt(pick(r), digits))
      .join(' / ');
  const line = (measure: string, pick: (r: CatchUpRun) => number, digits = 0) => {
    const a = of('tandem', pick);
    const b = of('debezium', pick);
    return `| ${name}: ${measure} | ${fmt(a, digits)} (${all('tandem', pick, digits)}) | ${fmt(b, digits)} (${all('debezium', pick, digits)}) | ${(a / b).toFixed(2)} |`;
  };
  return [
    line('events/s catching up', (r) => r.eventsPerSecond),
    line('peak RSS, MiB', (r) => r.peakRssMb),
    line('CPU s per million events', (r) => r.cpuSecondsPerMillion, 1),
    line('start-up to streaming, s', (r) => r.startupSeconds, 1),
    line('bytes per event in Kafka', (r) => r.kafkaValueBytes / r.events),
  ];
}

function latencyRows(runs: LatencyRun[]): string[] {
  const of = (system: System, pick: (r: LatencyRun) => number) =>
    median(runs.filter((r) => r.system === system).map(pick));
  const all = (system: System, pick: (r: LatencyRun) => number) =>
    runs
      .filter((r) => r.system === system)
      .map((r) => fmt(pick(r)))
      .join(' / ');
  const line = (measure: string, pick: (r: LatencyRun) => number) =>
    `| latency: ${measure} | ${fmt(of('tandem', pick))} (${all('tandem', pick)}) | ${fmt(of('debezium', pick))} (${all('debezium', pick)}) | ${(of('tandem', pick) / of('debezium', pick)).toFixed(2)} |`;
  return [
    line('achieved rate, tx/s', (r) => r.rate),
    line('commit → Kafka p50, ms', (r) => r.p50),
    line('commit → Kafka p99, ms', (r) => r.p99),
    line('peak RSS, MiB', (r) => r.peakRssMb),
  ];
}

async function main() {
  installDebezium();
  await ensureDatabase();
  const kafka = testKafka();
  const started = new Date().toISOString();
  const loadBefore = execFileSync('uptime').toString().trim();
  const results: Record<string, unknown> = {};
  const rows: string[] = [];
  const workloads: Record<string, Workload> = { inserts, jsonb, pgbench: pgbenchWorkload };
  for (const [name, workload] of Object.entries(workloads)) {
    if (!options.parts.has(name)) continue;
    const outcome = await catchUp(kafka, workload);
    results[name] = outcome;
    rows.push(...catchUpRows(name, outcome.runs));
  }
  if (options.parts.has('latency')) {
    const runs = await latency(kafka);
    results.latency = runs;
    rows.push(...latencyRows(runs));
  }
  const loadAfter = execFileSync('uptime').toString().trim();
  const m = await machine();
  const versions = {
    debezium: DEBEZIUM_VERSION,
    java: javaVersion(),
    node: process.version,
  };
  const table = [
    '| Measure (median; each run in parentheses) | Tandem | Debezium | Tandem / Debezium |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
  const out = join(ROOT, '.tandem', 'bench');
  mkdirSync(out, { recursive: true });
  const file = join(out, `peer-debezium-${started.replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        started,
        options: { ...options, parts: [...options.parts] },
        machine: m,
        versions,
        loadBefore,
        loadAfter,
        results,
      },
      null,
      2,
    ),
  );
  process.stdout.write(
    `${table}\n\nuptime before: ${loadBefore}\nuptime after: ${loadAfter}\nraw figures: ${file}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
);
