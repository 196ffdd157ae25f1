/**
 * Backfill benchmark (not a test: nothing here asserts a timing). On one table of N rows, in one run:
 *   snapshot   `tandem capture` starts with a new slot and reads the table (initial snapshot, the
 *              product's defaults: chunks of 5,000 rows, parallelism 2): rows/s from its "snapshot
 *              planned" to its "snapshot complete" log line
 *   quiet      while capture streams, single-row UPDATEs at a steady rate on random rows of the
 *              same table for S seconds: Kafka record timestamp − source.ts_ms of each update event
 *   backfill   the same updates while `tandem backfill` re-reads the whole table (chunks of 5,000):
 *              backfill rows/s (first low watermark to last high watermark, as capture recorded them)
 *              and the update events' latency during it (--chunk-size: rows per backfill chunk)
 *
 *   npm run bench:backfill -- [--rows 1000000] [--rate 1000] [--seconds 20] [--chunk-size 5000]
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { loadavg } from 'os';
import { Client } from 'pg';
import { env, sql, testKafka } from '../../test/support/services';
import { Capture, ROOT, TopicCounter, cleanUp, createTable, insertRange, log, machine, names, percentile, seconds, sleep, writeCaptureConfig } from '../capture/support';
import { arg, fmt } from '../cli-args';
import { BackfillRequests, type BackfillListing } from '../../src/modules/capture/backfill/backfill-requests';
import { loadConfig } from '../../src/modules/config/load-config';

const options = {
  rows: Number(arg('rows', '1000000')),
  rate: Number(arg('rate', '1000')),
  seconds: Number(arg('seconds', '20')),
  /** Rows per backfill chunk (tandem backfill --chunk-size); the snapshot keeps the default 5,000. */
  chunkSize: Number(arg('chunk-size', '5000')),
};

/** Single-row UPDATEs of random rows at `rate` per second until `until()` is true (at least `minSeconds`). */
async function steadyUpdates(table: string, rate: number, until: () => boolean, minSeconds: number, connections = 2) {
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new Client({ connectionString: env.sourceUrl() });
      await client.connect();
      return client;
    }),
  );
  const start = Date.now() + 100;
  let next = 0;
  const done = () => Date.now() - start >= minSeconds * 1000 && until();
  await Promise.all(
    clients.map(async (client) => {
      for (let i = next++; !done(); i = next++) {
        const wait = start + (i * 1000) / rate - Date.now();
        if (wait > 0) await sleep(wait);
        await client.query(`UPDATE ${table} SET amount = amount + 1 WHERE id = $1`, [1 + Math.floor(Math.random() * options.rows)]);
      }
    }),
  );
  const elapsed = seconds(Date.now() - start);
  await Promise.all(clients.map((client) => client.end()));
  return { updates: next, seconds: elapsed, rate: next / elapsed };
}

/** The time field (ms) of the first JSON log line whose msg is `message`. */
function loggedAt(output: string, message: string): number {
  const line = output.split('\n').find((l) => l.includes(`"msg":"${message}"`));
  if (!line) throw new Error(`capture never logged "${message}"`);
  return JSON.parse(line).time as number;
}

async function main() {
  const kafka = testKafka();
  const m = await machine();
  const n = names('backfill');
  n.topic = `${n.prefix}.public.${n.table}`;
  const load = () => loadavg().map((v) => v.toFixed(1)).join(' ');
  try {
    log(`${fmt(options.rows)} rows into ${n.table}`);
    await createTable(n.table);
    for (let lo = 1; lo <= options.rows; lo += 100_000) await sql(insertRange(n.table, lo, Math.min(options.rows, lo + 99_999)));
    await sql(`VACUUM ANALYZE ${n.table}`);

    let phase: 'snapshot' | 'quiet' | 'backfill' | 'after' = 'snapshot';
    const latencies: Record<'quiet' | 'backfill', number[]> = { quiet: [], backfill: [] };
    const configFile = writeCaptureConfig(n);
    const loadBefore = load();
    const capture = new Capture(configFile);
    await capture.waitReady(1_800_000); // a snapshot of a million rows on a loaded machine takes minutes
    // Joined once capture made the topic; it reads from the beginning.
    const counter = await TopicCounter.start(kafka, n.topic, (timestamp, value) => {
      if ((phase === 'quiet' || phase === 'backfill') && value.includes('"op":"u"')) latencies[phase].push(timestamp - JSON.parse(value.toString()).source.ts_ms);
    });
    const snapshotSeconds = seconds(loggedAt(capture.output, 'snapshot complete; streaming from the slot') - loggedAt(capture.output, 'snapshot planned; reading chunks'));
    await counter.waitFor(options.rows, () => capture.running, () => capture.tail());
    log(`snapshot: ${fmt(options.rows / snapshotSeconds)} rows/s; load average ${load()}`);

    phase = 'quiet';
    log(`quiet: ${options.rate} updates/s for ${options.seconds} s`);
    const quiet = await steadyUpdates(n.table, options.rate, () => true, options.seconds);
    await sleep(2000);

    phase = 'backfill';
    const requests = await BackfillRequests.open(loadConfig(configFile));
    let finished: BackfillListing | undefined;
    const backfillStart = Date.now();
    const id = await requests.request(`public.${n.table}`, null, options.chunkSize);
    log(`backfill ${id}: ${options.rate} updates/s while it runs`);
    const updating = steadyUpdates(n.table, options.rate, () => finished !== undefined, 1);
    while (!finished) {
      const listing = (await requests.list()).find((b) => b.id === id);
      if (listing && ['done', 'cancelled', 'failed'].includes(listing.status)) finished = listing;
      else await sleep(500);
      if (!capture.running) throw new Error(`capture exited:\n${capture.tail()}`);
    }
    const backfillWall = seconds(Date.now() - backfillStart);
    const during = await updating;
    await sleep(2000);
    phase = 'after';
    await requests.close();
    const loadAfter = load();
    await capture.stop();
    await counter.stop();

    const stats = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return { events: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
    };
    const result = {
      rows: options.rows,
      snapshot: { seconds: snapshotSeconds, rowsPerSecond: options.rows / snapshotSeconds },
      backfill: { listing: finished, wallSeconds: backfillWall, rowsPerSecond: finished.rowsPerSecond },
      quiet: { ...quiet, latency: stats(latencies.quiet) },
      during: { ...during, latency: stats(latencies.backfill) },
      loadAverage: { before: loadBefore, after: loadAfter },
      machine: m,
    };
    const out = join(ROOT, '.tandem', 'bench');
    mkdirSync(out, { recursive: true });
    const file = join(out, `backfill-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2));
    const ms = (v: number) => `${fmt(v)} ms`;
    process.stdout.write(
      [
        `| ${fmt(options.rows)} rows | rows/s | ratio to the snapshot |`,
        '| --- | --- | --- |',
        `| initial snapshot (parallelism 2, chunks of 5,000) | ${fmt(result.snapshot.rowsPerSecond)} | 1 |`,
        `| backfill while ${fmt(during.rate)} updates/s stream (one reader, chunks of ${fmt(options.chunkSize)}) | ${fmt(finished.rowsPerSecond ?? 0)} | ${((finished.rowsPerSecond ?? 0) / result.snapshot.rowsPerSecond).toFixed(2)} |`,
        '',
        '| stream of single-row updates | updates/s | events | p50 | p99 | max |',
        '| --- | --- | --- | --- | --- | --- |',
        `| without backfill | ${fmt(quiet.rate)} | ${fmt(result.quiet.latency.events)} | ${ms(result.quiet.latency.p50)} | ${ms(result.quiet.latency.p99)} | ${ms(result.quiet.latency.max)} |`,
        `| during the backfill | ${fmt(during.rate)} | ${fmt(result.during.latency.events)} | ${ms(result.during.latency.p50)} | ${ms(result.during.latency.p99)} | ${ms(result.during.latency.max)} |`,
        '',
        `backfill: ${finished.status}, ${fmt(finished.rowsRead)} rows read, ${fmt(finished.rowsEmitted)} emitted, ${finished.chunksDone} chunks, ${fmt(backfillWall, 1)} s from request to done`,
        `load average (1, 5, 15 min) before ${loadBefore}, after ${loadAfter}; ${m.cpus} × ${m.cpuModel}, PostgreSQL ${m.postgres}, Kafka ${m.kafka}, Node ${m.node}`,
        '',
      ].join('\n'),
    );
    log(`results: ${file}`);
  } finally {
    await cleanUp(kafka, n);
  }
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
