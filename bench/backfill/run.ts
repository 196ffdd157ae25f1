/**
 * Backfill benchmark (not a test: nothing here asserts a timing). On one table of N rows, in one run:
 *   snapshot   `tandem capture` starts with a new slot and reads the table (initial snapshot, the
 *              product's defaults: chunks of 5,000 rows, parallelism 2): rows/s from its "snapshot
 *              planned" to its "snapshot complete" log line
 *   warm-up    the load below for S/2 seconds, not measured: right after its snapshot capture was seen
 *              seconds behind the stream for a while (one run: p50 19 s "before", 0.6 s "after")
 *   before     while capture streams, single-row UPDATEs at a steady rate on random rows of the
 *              same table for S seconds
 *   backfill   the same load generator while `tandem backfill` re-reads the whole table: backfill
 *              rows/s (first low watermark to last produced piece, as capture recorded them)
 *   after      the same load generator for S seconds again, once the backfill is done (the machine's
 *              load drifts; the stream without a backfill is measured on both sides of it)
 * Capture's CPU (user + system, /proc) per 1,000 rows: the snapshot's from capture's start, the
 * backfill's as all of capture's CPU while it ran, its stream's included.
 * Each update event is assigned to the phase its source commit (source.ts_ms) fell in, and every
 * phase waits until all its updates were consumed, so a slow tail cannot slip out of a phase. Latency
 * of an update: visible = received by a read_committed consumer − source.ts_ms (what a consumer of
 * the topic sees); sent = Kafka record timestamp − source.ts_ms (record handed to the broker, before
 * its transaction commits). p99 over the whole phase, and the worst p99 of its S-second windows, so
 * that phases of different lengths are compared on windows of one length too.
 *
 *   npm run bench:backfill -- [--rows 1000000] [--rate 1000] [--seconds 20] [--chunk-size 5000] [--connections 8]
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
  /** Connections of the load generator (the same in every phase). */
  connections: Number(arg('connections', '8')),
};

interface Phase {
  name: 'warm-up' | 'before' | 'backfill' | 'after';
  /** Wall-clock ms of the generator's first and last update. */
  from: number;
  to: number;
  updates: number;
  rate: number;
}

/** One update event as consumed: source commit, record timestamp, receipt (ms). */
interface Seen {
  ts: number;
  sent: number;
  received: number;
}

/** Single-row UPDATEs of random rows at `rate` per second until `until()` is true (at least `minSeconds`). */
async function steadyUpdates(name: Phase['name'], table: string, rate: number, until: () => boolean, minSeconds: number): Promise<Phase> {
  const clients = await Promise.all(
    Array.from({ length: options.connections }, async () => {
      const client = new Client({ connectionString: env.sourceUrl() });
      await client.connect();
      return client;
    }),
  );
  const start = Date.now() + 100;
  let next = 0;
  let done = 0;
  const over = () => Date.now() - start >= minSeconds * 1000 && until();
  await Promise.all(
    clients.map(async (client) => {
      for (let i = next++; !over(); i = next++) {
        const wait = start + (i * 1000) / rate - Date.now();
        if (wait > 0) await sleep(wait);
        await client.query(`UPDATE ${table} SET amount = amount + 1 WHERE id = $1`, [1 + Math.floor(Math.random() * options.rows)]);
        done += 1;
      }
    }),
  );
  const to = Date.now();
  await Promise.all(clients.map((client) => client.end()));
  return { name, from: start, to, updates: done, rate: done / seconds(to - start) };
}

/** The time field (ms) of the first JSON log line whose msg is `message`. */
function loggedAt(output: string, message: string): number {
  const line = output.split('\n').find((l) => l.includes(`"msg":"${message}"`));
  if (!line) throw new Error(`capture never logged "${message}"`);
  return JSON.parse(line).time as number;
}

const within = (phase: Phase, seen: Seen[]) => seen.filter((u) => u.ts >= phase.from - 50 && u.ts <= phase.to + 50);

/** Waits until every update of `phase` was consumed (each UPDATE of an existing row is one event). */
async function consumed(phase: Phase, seen: Seen[], alive: () => boolean): Promise<number> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const count = within(phase, seen).length;
    if (count >= phase.updates || Date.now() > deadline || !alive()) return count;
    await sleep(200);
  }
}

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { events: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

/** p99 of each S-second window of the phase (by source commit time); the worst and the median. */
function windowed(phase: Phase, seen: Seen[], latency: (u: Seen) => number) {
  const p99s: number[] = [];
  for (let from = phase.from; from < phase.to; from += options.seconds * 1000) {
    const inWindow = seen.filter((u) => u.ts >= from && u.ts < from + options.seconds * 1000).map(latency).sort((a, b) => a - b);
    if (inWindow.length >= 100) p99s.push(percentile(inWindow, 99));
  }
  const sorted = [...p99s].sort((a, b) => a - b);
  return { windows: p99s.length, worstP99: sorted[sorted.length - 1] ?? NaN, medianP99: percentile(sorted, 50) };
}

function measure(phases: Phase[], seen: Seen[]) {
  const mine = phases.flatMap((phase) => within(phase, seen));
  const visible = (u: Seen) => u.received - u.ts;
  const sent = (u: Seen) => u.sent - u.ts;
  const windows = phases.map((phase) => windowed(phase, within(phase, seen), visible));
  return {
    updates: phases.reduce((sum, p) => sum + p.updates, 0),
    rate: phases.reduce((sum, p) => sum + p.updates, 0) / phases.reduce((sum, p) => sum + seconds(p.to - p.from), 0),
    seconds: phases.reduce((sum, p) => sum + seconds(p.to - p.from), 0),
    visible: stats(mine.map(visible)),
    sent: stats(mine.map(sent)),
    worstWindowP99: Math.max(...windows.map((w) => w.worstP99)),
    medianWindowP99: percentile(windows.flatMap((w) => (Number.isNaN(w.medianP99) ? [] : [w.medianP99])).sort((a, b) => a - b), 50),
  };
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

    const seen: Seen[] = [];
    const configFile = writeCaptureConfig(n);
    const loadBefore = load();
    const capture = new Capture(configFile);
    await capture.waitReady(1_800_000); // a snapshot of a million rows on a loaded machine takes minutes
    // Joined once capture made the topic; it reads from the beginning.
    const counter = await TopicCounter.start(kafka, n.topic, (timestamp, value, receivedAt) => {
      if (value.includes('"op":"u"')) seen.push({ ts: JSON.parse(value.toString()).source.ts_ms, sent: timestamp, received: receivedAt });
    });
    const snapshotSeconds = seconds(loggedAt(capture.output, 'snapshot complete; streaming from the slot') - loggedAt(capture.output, 'snapshot planned; reading chunks'));
    await counter.waitFor(options.rows, () => capture.running, () => capture.tail());
    log(`snapshot: ${fmt(options.rows / snapshotSeconds)} rows/s; load average ${load()}`);
    const alive = () => capture.running;

    log(`warm-up: ${options.rate} updates/s for ${options.seconds / 2} s, not measured`);
    await consumed(await steadyUpdates('warm-up', n.table, options.rate, () => true, options.seconds / 2), seen, alive);
    log(`before: ${options.rate} updates/s for ${options.seconds} s`);
    const cpuBefore = capture.stats().cpuSeconds;
    const before = await steadyUpdates('before', n.table, options.rate, () => true, options.seconds);
    await consumed(before, seen, alive);
    const streamCpuPerSecond = (capture.stats().cpuSeconds - cpuBefore) / seconds(before.to - before.from);

    const requests = await BackfillRequests.open(loadConfig(configFile));
    let finished: BackfillListing | undefined;
    const backfillStart = Date.now();
    const cpuAtBackfill = capture.stats().cpuSeconds;
    const id = await requests.request(`public.${n.table}`, null, options.chunkSize);
    log(`backfill ${id}: ${options.rate} updates/s while it runs`);
    const updating = steadyUpdates('backfill', n.table, options.rate, () => finished !== undefined, 1);
    while (!finished) {
      const listing = (await requests.list()).find((b) => b.id === id);
      if (listing && ['done', 'cancelled', 'failed'].includes(listing.status)) finished = listing;
      else await sleep(500);
      if (!capture.running) throw new Error(`capture exited:\n${capture.tail()}`);
    }
    const backfillWall = seconds(Date.now() - backfillStart);
    const during = await updating;
    await consumed(during, seen, alive);
    // all of capture's CPU while the backfill ran, its stream's included (the stream shares its transactions)
    const backfillCpu = capture.stats().cpuSeconds - cpuAtBackfill;
    await requests.close();

    log(`after: ${options.rate} updates/s for ${options.seconds} s`);
    const after = await steadyUpdates('after', n.table, options.rate, () => true, options.seconds);
    await consumed(after, seen, alive);
    const missing = [before, during, after].map((phase) => phase.updates - within(phase, seen).length);
    const loadAfter = load();
    await capture.stop();
    await counter.stop();

    const without = measure([before, after], seen);
    const withBackfill = measure([during], seen);
    const result = {
      rows: options.rows,
      options,
      snapshot: { seconds: snapshotSeconds, rowsPerSecond: options.rows / snapshotSeconds, captureCpuSeconds: capture.atReady?.cpuSeconds },
      backfill: { listing: finished, wallSeconds: backfillWall, rowsPerSecond: finished.rowsPerSecond, captureCpuSeconds: backfillCpu },
      streamCpuSecondsPerSecondBefore: streamCpuPerSecond,
      phases: { before, during, after },
      notConsumed: missing,
      without,
      during: withBackfill,
      beforeOnly: measure([before], seen),
      afterOnly: measure([after], seen),
      loadAverage: { before: loadBefore, after: loadAfter },
      machine: m,
    };
    const out = join(ROOT, '.tandem', 'bench');
    mkdirSync(out, { recursive: true });
    const file = join(out, `backfill-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2));
    const ms = (v: number) => `${fmt(v)} ms`;
    const row = (label: string, r: ReturnType<typeof measure>) =>
      `| ${label} | ${fmt(r.rate)} | ${fmt(r.seconds, 0)} s | ${fmt(r.visible.events)} | ${ms(r.visible.p50)} | **${ms(r.visible.p99)}** | ${ms(r.worstWindowP99)} | ${ms(r.sent.p99)} |`;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    process.stdout.write(
      [
        `| ${fmt(options.rows)} rows | rows/s | ratio to the snapshot |`,
        '| --- | --- | --- |',
        `| initial snapshot (parallelism 2, chunks of 5,000) | ${fmt(result.snapshot.rowsPerSecond)} | 1 |`,
        `| backfill while ${fmt(during.rate)} updates/s stream (chunks of ${fmt(options.chunkSize)}) | ${fmt(finished.rowsPerSecond ?? 0)} | ${ratio(finished.rowsPerSecond ?? 0, result.snapshot.rowsPerSecond)} |`,
        '',
        `| stream of single-row updates (${options.connections} connections, ${fmt(options.rate)}/s asked) | updates/s | time | events | p50 visible | p99 visible | worst ${options.seconds}-s window p99 | p99 sent |`,
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        row('without backfill (before + after)', without),
        row('during the backfill', withBackfill),
        '',
        `p99 visible during ÷ without: **×${ratio(withBackfill.visible.p99, without.visible.p99)}** (before ${ms(result.beforeOnly.visible.p99)}, after ${ms(result.afterOnly.visible.p99)}); worst window ×${ratio(withBackfill.worstWindowP99, without.worstWindowP99)}; p99 sent ×${ratio(withBackfill.sent.p99, without.sent.p99)}`,
        `backfill: ${finished.status}, ${fmt(finished.rowsRead)} rows read, ${fmt(finished.rowsEmitted)} emitted, ${finished.chunksDone} chunks, ${fmt(backfillWall, 1)} s from request to done; updates not consumed per phase: ${missing.join(', ')}`,
        `capture CPU per 1,000 rows: snapshot ${fmt((1e6 * (capture.atReady?.cpuSeconds ?? NaN)) / options.rows)} ms (from its start), backfill ${fmt((1e6 * backfillCpu) / finished.rowsRead)} ms (capture's whole CPU during it; its stream alone took ${fmt(streamCpuPerSecond * 1000)} ms/s "before")`,
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
