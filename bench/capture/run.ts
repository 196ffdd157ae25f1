/**
 * Capture benchmark (not a test: nothing here asserts a timing). Three parts, each on its own table,
 * slot, publication and topics, dropped afterwards:
 *   catchup  N row inserts already in the WAL, decoded by pg_recvlogical (the reference) and by
 *            `tandem capture` into Kafka, from two slots created at the same moment
 *   latency  single-row transactions at a steady rate while capture streams:
 *            Kafka record timestamp − source.ts_ms (the commit time) per event
 *   bigtx    one transaction of M rows while capture streams: peak RSS and time to Kafka
 *   e2e      commit → projection row visible through `tandem project` (users recipe), at each of
 *            --e2e-rates single-row transactions/s (projection-latency.ts)
 *
 *   npm run bench:capture -- [--rows 1000000] [--tx-rows 1000] [--rate 2000] [--seconds 20]
 *                            [--big-tx 1000000] [--e2e-rates 2000,5000] [--e2e-warmup 5]
 *                            [--parts catchup,latency,bigtx,e2e] [--cpu-prof]
 *
 * --cpu-prof runs the catch-up capture under `node --cpu-prof` (into .tandem/prof) and prints its
 * top self-time functions; its throughput is then not representative. With the e2e part, capture and
 * the projector run under it at each rate (a folder of profiles per rate, printed).
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import { env, sql, testKafka } from '../../test/support/services';
import {
  Capture,
  ROOT,
  TopicCounter,
  cleanUp,
  createTable,
  currentLsn,
  insertRange,
  log,
  machine,
  names,
  percentile,
  seconds,
  sleep,
  timeRecvlogical,
  writeCaptureConfig,
} from './support';
import { formatTop, topSelfTime } from './profile';
import { projectionLatency } from './projection-latency';
import { arg, argv, flag, fmt, profileDir } from '../cli-args';

const options = {
  rows: Number(arg('rows', '1000000')),
  txRows: Number(arg('tx-rows', '1000')),
  rate: Number(arg('rate', '2000')),
  seconds: Number(arg('seconds', '20')),
  bigTx: Number(arg('big-tx', '1000000')),
  e2eRates: arg('e2e-rates', '2000,5000').split(',').map(Number),
  e2eWarmup: Number(arg('e2e-warmup', '5')),
  parts: new Set(arg('parts', 'catchup,latency,bigtx,e2e').split(',')),
  cpuProf: flag('cpu-prof'),
};
const PROF_DIR = profileDir(ROOT);
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;

/** A fresh folder for the e2e part's profiles at one rate (capture's and the projector's threads). */
function e2eProfileDir(rate: number): string {
  const dir = join(PROF_DIR, `e2e-${rate}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function catchUp(kafka: Kafka) {
  const n = names('catchup');
  const ref = { slot: `${n.table}_ref`, publication: `${n.table}_refpub` };
  try {
    await createTable(n.table);
    const config = writeCaptureConfig(n);
    log('catchup: creating the capture slot (tandem capture until "streaming changes", then SIGTERM)');
    const first = new Capture(config);
    await first.waitStreaming();
    await first.stop();
    await sql(`CREATE PUBLICATION ${ref.publication} FOR TABLE ${n.table}`);
    await sql("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [ref.slot]);
    const startLsn = await currentLsn();

    log(`catchup: writing ${fmt(options.rows)} rows in ${fmt(options.txRows)}-row transactions`);
    const loadStart = Date.now();
    const client = new Client({ connectionString: env.sourceUrl() });
    await client.connect();
    for (let lo = 1; lo <= options.rows; lo += options.txRows)
      await client.query(insertRange(n.table, lo, Math.min(lo + options.txRows - 1, options.rows)));
    await client.end();
    const loadSeconds = seconds(Date.now() - loadStart);
    const endLsn = await currentLsn();
    const [sizes] = await sql(
      'SELECT pg_wal_lsn_diff($1, $2)::bigint AS wal, pg_total_relation_size($3) AS tbl',
      [endLsn, startLsn, n.table],
    );

    log(`catchup: pg_recvlogical up to ${endLsn}`);
    const refSeconds = await timeRecvlogical(ref.slot, ref.publication, endLsn);
    log(`catchup: pg_recvlogical took ${refSeconds.toFixed(2)} s`);

    const counter = await TopicCounter.start(kafka, n.topic);
    if (options.cpuProf) mkdirSync(PROF_DIR, { recursive: true });
    const profilesBefore = new Set(options.cpuProf ? readdirSync(PROF_DIR) : []);
    log(`catchup: tandem capture${options.cpuProf ? ' (under --cpu-prof)' : ''}`);
    const capture = new Capture(config, options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : []);
    await capture.waitStreaming();
    const doneAt = await counter.waitFor(
      options.rows,
      () => capture.running,
      () => capture.tail(),
    );
    const end = capture.stats();
    await capture.stop();
    await counter.stop();
    const start = capture.atStreaming!;
    const tandemSeconds = seconds(doneAt - capture.streamingAt);
    log(
      `catchup: tandem took ${tandemSeconds.toFixed(2)} s after ${seconds(capture.streamingAt - capture.spawnedAt).toFixed(2)} s of start-up`,
    );

    // How fast the measuring consumer itself reads the topic, to show it is not the bottleneck.
    const reader = await TopicCounter.start(kafka, n.topic);
    const readStart = Date.now();
    await reader.waitFor(
      options.rows,
      () => true,
      () => '',
    );
    const readerSeconds = seconds(Date.now() - readStart);
    await reader.stop();

    const profile = options.cpuProf
      ? readdirSync(PROF_DIR)
          .filter((f) => !profilesBefore.has(f))
          .map((f) => join(PROF_DIR, f))
      : [];
    return {
      rows: options.rows,
      txRows: options.txRows,
      loadSeconds,
      walBytes: Number(sizes.wal),
      tableBytes: Number(sizes.tbl),
      kafkaValueBytes: counter.bytes,
      recvlogical: { seconds: refSeconds, eventsPerSecond: options.rows / refSeconds },
      tandem: {
        startupSeconds: seconds(capture.streamingAt - capture.spawnedAt),
        firstEventSeconds: seconds(counter.firstAt - capture.streamingAt),
        seconds: tandemSeconds,
        eventsPerSecond: options.rows / tandemSeconds,
        eventsPerSecondWithStartup: options.rows / seconds(doneAt - capture.spawnedAt),
        peakRssMb: end.peakRssMb,
        startupCpuSeconds: start.cpuSeconds,
        cpuSeconds: end.cpuSeconds - start.cpuSeconds,
        cpuSecondsPerMillion: ((end.cpuSeconds - start.cpuSeconds) / options.rows) * 1e6,
      },
      ratio: tandemSeconds > 0 ? refSeconds / tandemSeconds : NaN,
      readerEventsPerSecond: options.rows / readerSeconds,
      profile,
    };
  } finally {
    await cleanUp(kafka, n, { slots: [ref.slot], publications: [ref.publication] });
  }
}

/** Single-row transactions at `rate` per second for `duration` s, spread over a few connections. */
async function steadyWrites(table: string, rate: number, duration: number, connections = 2) {
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
        const id = i + 1;
        await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3, md5($4), now())`, [
          id,
          `user_${id % 10000}`,
          id * 1.2345,
          String(id),
        ]);
      }
    }),
  );
  const elapsed = seconds(Date.now() - start);
  await Promise.all(clients.map((client) => client.end()));
  return { rows: total, seconds: elapsed, rate: total / elapsed };
}

async function latency(kafka: Kafka) {
  const n = names('latency');
  try {
    await createTable(n.table);
    const capture = new Capture(writeCaptureConfig(n));
    await capture.waitStreaming();
    const latencies: number[] = []; // Kafka record timestamp (set when the producer sends) − commit time
    const visible: number[] = []; // arrival at the read_committed consumer − commit time
    const counter = await TopicCounter.start(kafka, n.topic, (timestamp, value, receivedAt) => {
      const committedAt = JSON.parse(value.toString()).source.ts_ms;
      latencies.push(timestamp - committedAt);
      visible.push(receivedAt - committedAt);
    });
    await sleep(1000);
    log(`latency: ${fmt(options.rate)} single-row transactions/s for ${options.seconds} s`);
    const writes = await steadyWrites(n.table, options.rate, options.seconds);
    await counter.waitFor(
      writes.rows,
      () => capture.running,
      () => capture.tail(),
    );
    const stats = capture.stats();
    await capture.stop();
    await counter.stop();
    latencies.sort((a, b) => a - b);
    visible.sort((a, b) => a - b);
    return {
      ...writes,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1],
      visibleP50: percentile(visible, 50),
      visibleP99: percentile(visible, 99),
      peakRssMb: stats.peakRssMb,
    };
  } finally {
    await cleanUp(kafka, n);
  }
}

async function bigTransaction(kafka: Kafka) {
  const n = names('bigtx');
  try {
    await createTable(n.table);
    const capture = new Capture(writeCaptureConfig(n));
    await capture.waitStreaming();
    const counter = await TopicCounter.start(kafka, n.topic);
    const before = capture.stats();
    log(`bigtx: one transaction of ${fmt(options.bigTx)} rows`);
    const insertStart = Date.now();
    await sql(insertRange(n.table, 1, options.bigTx));
    const committedAt = Date.now();
    const doneAt = await counter.waitFor(
      options.bigTx,
      () => capture.running,
      () => capture.tail(),
    );
    const after = capture.stats();
    await capture.stop();
    await counter.stop();
    return {
      rows: options.bigTx,
      insertSeconds: seconds(committedAt - insertStart),
      firstEventAfterCommitSeconds: seconds(counter.firstAt - committedAt),
      allInKafkaAfterCommitSeconds: seconds(doneAt - committedAt),
      eventsPerSecondAfterFirst: options.bigTx / seconds(doneAt - counter.firstAt),
      rssBeforeMb: before.rssMb,
      peakRssMb: after.peakRssMb,
      cpuSecondsPerMillion: ((after.cpuSeconds - before.cpuSeconds) / options.bigTx) * 1e6,
    };
  } finally {
    await cleanUp(kafka, n);
  }
}

type Results = {
  catchup?: Awaited<ReturnType<typeof catchUp>>;
  latency?: Awaited<ReturnType<typeof latency>>;
  bigtx?: Awaited<ReturnType<typeof bigTransaction>>;
  e2e?: Array<Awaited<ReturnType<typeof projectionLatency>>>;
  errors: Record<string, string>;
};

function report(m: Awaited<ReturnType<typeof machine>>, r: Results): string {
  const lines = [
    `## Capture benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Command: \`npm run bench:capture${argv.length ? ` -- ${argv.join(' ')}` : ''}\``,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel} (nproc ${m.cpus}), ${m.memoryGb} GB RAM (free -g); Node ${m.node}, PostgreSQL ${m.postgres}, Kafka ${m.kafka} (one local broker), all on the same machine.`,
    '',
  ];
  const c = r.catchup;
  if (c) {
    lines.push(
      `Catch-up data: ${fmt(c.rows)} inserts in ${fmt(c.rows / c.txRows)} transactions of ${fmt(c.txRows)} rows (written in ${c.loadSeconds.toFixed(1)} s); ` +
        `${mb(c.walBytes)} of WAL, table ${mb(c.tableBytes)}, ${mb(c.kafkaValueBytes)} of event JSON in Kafka (${fmt(c.kafkaValueBytes / c.rows)} bytes per event).`,
      '',
    );
  }
  lines.push('| Measure | Value |', '|---|---|');
  if (c) {
    lines.push(
      `| Tandem catch-up, events/s (from "streaming changes" to the last event readable in Kafka) | **${fmt(c.tandem.eventsPerSecond)}** (${c.tandem.seconds.toFixed(1)} s) |`,
      `| pg_recvlogical, events/s (same WAL, pgoutput v1, to /dev/null) | **${fmt(c.recvlogical.eventsPerSecond)}** (${c.recvlogical.seconds.toFixed(1)} s) |`,
      `| Ratio Tandem / pg_recvlogical | **${c.ratio.toFixed(2)}** |`,
      `| Tandem start-up (spawn → "streaming changes"), first event in Kafka after it | ${c.tandem.startupSeconds.toFixed(1)} s, ${c.tandem.firstEventSeconds.toFixed(2)} s |`,
      `| Tandem catch-up including start-up, events/s | ${fmt(c.tandem.eventsPerSecondWithStartup)} |`,
      `| Capture peak RSS (VmHWM), ${fmt(c.rows)}-row catch-up | ${fmt(c.tandem.peakRssMb)} MiB |`,
      `| Capture CPU seconds per million events (catch-up, start-up excluded) | ${c.tandem.cpuSecondsPerMillion.toFixed(1)} (start-up: ${c.tandem.startupCpuSeconds.toFixed(1)} s) |`,
      `| Measuring consumer's own read rate (whole topic afterwards), events/s | ${fmt(c.readerEventsPerSecond)} |`,
    );
  }
  const l = r.latency;
  if (l) {
    lines.push(
      `| Latency commit → Kafka, p50 / p99 / max (${fmt(l.rows)} single-row transactions at ${fmt(l.rate)}/s) | **${fmt(l.p50)} / ${fmt(l.p99)}** / ${fmt(l.max)} ms |`,
      `| Latency commit → received by a read_committed consumer, p50 / p99 | ${fmt(l.visibleP50)} / ${fmt(l.visibleP99)} ms |`,
      `| Capture peak RSS (VmHWM), steady rate | ${fmt(l.peakRssMb)} MiB |`,
    );
  }
  const b = r.bigtx;
  if (b) {
    lines.push(
      `| One ${fmt(b.rows)}-row transaction: capture peak RSS (VmHWM; ${fmt(b.rssBeforeMb)} MiB before it) | **${fmt(b.peakRssMb)} MiB** |`,
      `| One ${fmt(b.rows)}-row transaction: COMMIT → first / all events in Kafka (INSERT took ${b.insertSeconds.toFixed(1)} s) | ${b.firstEventAfterCommitSeconds.toFixed(1)} s / ${b.allInKafkaAfterCommitSeconds.toFixed(1)} s (${fmt(b.eventsPerSecondAfterFirst)} events/s) |`,
      `| One ${fmt(b.rows)}-row transaction: capture CPU seconds per million events | ${b.cpuSecondsPerMillion.toFixed(1)} |`,
    );
  }
  for (const e of r.e2e ?? []) {
    lines.push(
      `| Commit → users.users row visible through \`tandem project\`, p50 / p99 / max (${fmt(e.measuredRows)} single-row transactions at ${fmt(e.rate)}/s, after ${e.warmupSeconds} s of warm-up at that rate whose p50 / p99 were ${fmt(e.warmupP50)} / ${fmt(e.warmupP99)} ms) | **${fmt(e.p50)} / ${fmt(e.p99)}** / ${fmt(e.max)} ms (the slowest 1 %, ${fmt(e.slowestRows)} rows, written in ${fmt(e.slowestWindows)} of the 100-ms windows, ${fmt(e.slowestInWorstWindow)} in the worst; ${e.writerSessions} writer sessions; ${fmt(e.targetTransactions)} target transactions, ${fmt(e.rowsPerTargetTransaction, 1)} rows each; projector peak RSS ${fmt(e.projectorPeakRssMb)} MiB; CPU ms per 1,000 rows: capture ${fmt(e.captureCpuMsPerThousand)}, projector ${fmt(e.projectorCpuMsPerThousand)}, writers ${fmt(e.writersCpuMsPerThousand)}, PostgreSQL ${e.postgresCpuMsPerThousand === null ? '–' : fmt(e.postgresCpuMsPerThousand)}${e.postgresCpuMsPerThousandByRole ? ` (${Object.entries(e.postgresCpuMsPerThousandByRole).map(([role, ms]) => `${role} ${fmt(ms)}`).join(', ')})` : ''}, Kafka ${e.kafkaCpuMsPerThousand === null ? '–' : fmt(e.kafkaCpuMsPerThousand)}; load ${e.loadAverage.map((x) => x.toFixed(1)).join(' → ')}) |`,
    );
  }
  for (const [part, message] of Object.entries(r.errors))
    lines.push(`| ${part} | FAILED: ${message.split('\n')[0]} |`);
  if (options.cpuProf)
    lines.push('', '(catch-up ran under --cpu-prof: its figures are slowed by the profiler)');
  return lines.join('\n');
}

async function main() {
  const kafka = testKafka();
  const m = await machine();
  const results: Results = { errors: {} };
  const parts: Array<[keyof Omit<Results, 'errors'>, (k: Kafka) => Promise<any>]> = [
    ['catchup', catchUp],
    ['latency', latency],
    ['bigtx', bigTransaction],
    ['e2e', async (k: Kafka) => {
      const runs = [];
      for (const rate of options.e2eRates) {
        const profiles = options.cpuProf ? e2eProfileDir(rate) : null;
        runs.push(await projectionLatency(k, rate, options.seconds, options.e2eWarmup, profiles ? ['--cpu-prof', `--cpu-prof-dir=${profiles}`] : []));
        if (profiles) log(`e2e: CPU profiles of capture and the projector in ${profiles}`);
      }
      return runs;
    }],
  ];
  for (const [part, run] of parts) {
    if (!options.parts.has(part)) continue;
    try {
      results[part] = await run(kafka);
      log(`${part}: ${JSON.stringify(results[part])}`);
    } catch (error) {
      results.errors[part] = (error as Error).message;
      log(`${part} FAILED: ${(error as Error).message}`);
    }
  }
  const out = join(ROOT, '.tandem', 'bench');
  mkdirSync(out, { recursive: true });
  const file = join(out, `capture-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ options: { ...options, parts: [...options.parts] }, machine: m, results }, null, 2),
  );
  process.stdout.write(report(m, results) + '\n');
  for (const profile of results.catchup?.profile ?? []) {
    process.stdout.write(
      `\nCPU profile of the catch-up capture: ${profile} (${mb(statSync(profile).size)})\n\n${formatTop(topSelfTime(profile))}\n`,
    );
  }
  log(`results: ${file}`);
  process.exit(Object.keys(results.errors).length > 0 ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
