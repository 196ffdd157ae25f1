/**
 * Projection benchmark (not a test: nothing here asserts a timing). One part per recipe, each with
 * its own legacy schema, slot, publication, topics and target databases, all dropped afterwards:
 *
 *   1. the recipe's demo generator writes the legacy rows (app-state: user_app_state JSONB states of
 *      4–20 KB; memory: memory_nodes with vector(1024) embeddings);
 *   2. `tandem capture` snapshots them into Kafka and is stopped once a read_committed consumer has
 *      counted every row in the topic (not measured);
 *   3. `tandem project --projection <recipe>` (child process) against a fresh target database is
 *      started on EMPTY topics of a second prefix; once its consumer group is stable, the captured
 *      records are copied there (same partitions, keys, values and record batches) in ONE Kafka
 *      transaction, so that they all become visible at its commit. Timed from that commit until the
 *      projector's checkpoints (tandem.checkpoints) reach the last offset of every partition. Peak
 *      RSS (VmHWM) and CPU (utime + stime) of the projector; CPU of its PostgreSQL backends.
 *      Why the copy: a projector started on a topic that already held data could stop for good on
 *      a partition (its consumer-group join sought back after the first batch was fetched, and the
 *      refetched records, all before its next offset, were dropped without moving the fetch
 *      position; fixed in ad917d5). The copy keeps the figure independent of that start-up race.
 *      --direct reads capture's topic instead, timed from "projectors running".
 *   4. reference: the same final rows (the projection's tables and its tandem.id_map entries),
 *      exported with COPY … TO, are loaded with psql \copy … FROM into another fresh database
 *      holding the same schema (Tandem's tables and the recipe's migrations, indexes included), in
 *      one transaction; only that load is timed. Ratio = projector rows/s ÷ COPY rows/s.
 *
 *   npm run bench:project -- [--app-state-users 20000] [--memory-nodes 50000] [--parts app-state,memory]
 *                            [--duplicate-ratio 0.1] [--bad-ratio 0] [--batch 2000] [--seed 1]
 *                            [--cpu-prof] [--direct]
 *
 * --cpu-prof runs each projector under `node --cpu-prof` (into .tandem/prof) and prints its top
 * self-time functions; its throughput is then not representative. --memory-sample loads
 * memory-sampler.mjs into each projector and reports the peaks of process.memoryUsage() and the V8
 * heap spaces at the peak RSS.
 */
import { execFileSync } from 'child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client, Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import { sql, testKafka, withSource } from '../../test/support/services';
import { writeConfig } from '../../test/support/capture-process';
import { createTargetDatabase } from '../../test/support/target-db';
import { createLegacyAppState, generateAppStates } from '../../demo/app-state';
import { createLegacyMemory, generateMemoryNodes } from '../../demo/memory';
import { RECIPES } from '../../src/projections/recipes';
import { ensureTandemSchema } from '../../src/connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../src/connectors/postgres-target/migrations';
import { Capture, ROOT, log, machine, seconds, sleep, type ProcStats } from '../capture/support';
import { formatTop, topSelfTime } from '../capture/profile';
import {
  BackendCpu,
  Projector,
  TopicEnds,
  cleanUp,
  copyInOneTransaction,
  fileBytes,
  loadAverage,
  machineBusySeconds,
  psql,
  quoteIdent,
  tablesInCopyOrder,
  waitForGroup,
  type CopyTable,
} from './support';
import { arg, argv, flag, fmt, profileDir } from '../cli-args';

const options = {
  appStateUsers: Number(arg('app-state-users', '20000')),
  memoryNodes: Number(arg('memory-nodes', '50000')),
  duplicateRatio: Number(arg('duplicate-ratio', '0.1')),
  badRatio: Number(arg('bad-ratio', '0')),
  batch: Number(arg('batch', '2000')),
  seed: Number(arg('seed', '1')),
  parts: arg('parts', 'app-state,memory').split(','),
  cpuProf: flag('cpu-prof'),
  memorySample: flag('memory-sample'),
  direct: flag('direct'),
};
const PROF_DIR = profileDir(ROOT);
const mib = (bytes: number) => `${fmt(bytes / 2 ** 20)} MiB`;
/** Memory nodes belong to this many users and tenants (about two thirds personal). */
const MEMORY_USERS = 200;
const MEMORY_TENANTS = 20;

type Recipe = 'app-state' | 'memory';

/** Writes the legacy table and its rows with the recipe's demo generator. */
async function generate(recipe: Recipe, schema: string) {
  return withSource(async (client) => {
    if (recipe === 'app-state') {
      await createLegacyAppState(client, schema);
      const summary = await generateAppStates(client, schema, {
        users: options.appStateUsers,
        duplicateRatio: options.duplicateRatio,
        badRatio: options.badRatio,
        seed: options.seed,
      });
      return {
        table: `${schema}.user_app_state`,
        rows: summary.rows,
        users: summary.users,
        invalid: summary.bad.length,
        stateBytes: summary.bytes,
      };
    }
    await createLegacyMemory(client, schema);
    const result = await generateMemoryNodes(client, schema, {
      nodes: options.memoryNodes,
      users: MEMORY_USERS,
      tenants: MEMORY_TENANTS,
      seed: options.seed,
      badRatio: options.badRatio,
    });
    return {
      table: `${schema}.memory_nodes`,
      rows: result.inserted,
      users: MEMORY_USERS + MEMORY_TENANTS,
      invalid: result.badScope,
      stateBytes: 0,
    };
  });
}

/** Polls the projector's checkpoints until every partition's last offset is applied; resolves with that moment. */
async function waitForCheckpoints(
  poll: Client,
  projection: string,
  topic: string,
  lastOffsets: Map<number, bigint>,
  projector: Projector,
  backends: BackendCpu,
  visibleAt: number,
  stallMs = 180_000,
): Promise<{ doneAt: number; firstCheckpointAt: number }> {
  let progress = '';
  let progressAt = Date.now();
  let firstCheckpointAt = 0;
  let sampledAt = 0;
  for (;;) {
    await sleep(100);
    if (!projector.running) throw new Error(`the projector exited:\n${projector.tail()}`);
    if (Date.now() - sampledAt > 500) {
      await backends.sample();
      sampledAt = Date.now();
    }
    let rows: Array<{ partition: number; offset: string }>;
    try {
      rows = (
        await poll.query(
          `SELECT partition, "offset"::text AS "offset" FROM tandem.checkpoints WHERE projection = $1 AND topic = $2`,
          [projection, topic],
        )
      ).rows;
    } catch {
      rows = []; // tandem.checkpoints is not there before the projector's start-up created it
    }
    const applied = new Map(rows.map((row) => [row.partition, BigInt(row.offset)]));
    if (rows.length > 0 && !firstCheckpointAt) firstCheckpointAt = Math.max(Date.now(), visibleAt);
    if ([...lastOffsets].every(([partition, last]) => (applied.get(partition) ?? -1n) >= last)) {
      return { doneAt: Date.now(), firstCheckpointAt };
    }
    const now = JSON.stringify(rows);
    if (now !== progress) [progress, progressAt] = [now, Date.now()];
    if (Date.now() - progressAt > stallMs)
      throw new Error(`no checkpoint progress for ${stallMs / 1000} s (${now}):\n${projector.tail()}`);
  }
}

/** Rows per table of the projection (its schema's tables, then its tandem.id_map entries), in COPY order. */
async function projectedTables(
  client: Client,
  projection: string,
  schema: string,
  dir: string,
): Promise<CopyTable[]> {
  const tables: CopyTable[] = [];
  for (const name of await tablesInCopyOrder(client, schema)) {
    const qualified = `${quoteIdent(schema)}.${quoteIdent(name)}`;
    tables.push({
      name,
      qualified,
      select: `SELECT * FROM ${qualified}`,
      rows: 0,
      file: join(dir, `${schema}.${name}.copy`),
    });
  }
  tables.push({
    name: 'tandem.id_map',
    qualified: 'tandem.id_map',
    select: `SELECT * FROM tandem.id_map WHERE projection = '${projection.replace(/'/g, "''")}'`,
    rows: 0,
    file: join(dir, 'tandem.id_map.copy'),
  });
  for (const table of tables) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM (${table.select}) t`);
    table.rows = Number(rows[0].n);
  }
  return tables;
}

const copyCommand = (table: CopyTable, direction: 'TO' | 'FROM') =>
  direction === 'TO'
    ? `\\copy (${table.select}) TO '${table.file}'`
    : `\\copy ${table.qualified} FROM '${table.file}'`;

/**
 * The reference: the projection's schema in a fresh database (Tandem's tables and the recipe's
 * migrations, as the projector creates them), then one psql session loading every table with
 * \copy … FROM in one transaction, parents first. Timed from psql's marker before BEGIN to its
 * marker after COMMIT; the backend's CPU is sampled meanwhile.
 */
async function copyReference(recipe: Recipe, sourceSchema: string, tables: CopyTable[]) {
  const definition = RECIPES[recipe].projection({ sourceSchema, env: process.env });
  const database = await createTargetDatabase('bench_project_copy');
  const pool = new Pool({ connectionString: database.url, max: 1 });
  try {
    await ensureTandemSchema(pool);
    await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
  } finally {
    await pool.end();
  }
  const poll = new Client({ connectionString: database.url });
  poll.on('error', (error) => log(`${recipe}: reference connection: ${error.message}`));
  await poll.connect();
  const backends = new BackendCpu(poll, database.name, 'psql');
  let startAt = 0;
  let doneAt = 0;
  let busyAtStart = 0;
  let busyAtDone = 0;
  const script = [
    '\\warn copy-start',
    'BEGIN;',
    ...tables.filter((t) => t.rows > 0).map((t) => copyCommand(t, 'FROM')),
    'COMMIT;',
    // the recipe's deferred indexes (memory's HNSW), built after the load as the projector does
    ...(definition.deferredIndexes ?? []).flatMap((index) => [
      `SET search_path = "${definition.schema}", public;`,
      "SET maintenance_work_mem = '512MB';",
      `${index.sql};`,
    ]),
    '\\warn copy-done',
    'SELECT pg_sleep(1);', // keeps the backend alive for a last CPU sample
  ].join('\n');
  try {
    const running = psql(database.url, script, (stderr) => {
      if (!startAt && stderr.includes('copy-start'))
        [startAt, busyAtStart] = [Date.now(), machineBusySeconds()];
      if (!doneAt && stderr.includes('copy-done')) [doneAt, busyAtDone] = [Date.now(), machineBusySeconds()];
    });
    let finished = false;
    void running.finally(() => (finished = true)).catch(() => undefined);
    let sampledDone = false;
    while (!finished) {
      await sleep(50);
      if (!sampledDone) await backends.sample();
      if (doneAt && !sampledDone) sampledDone = true; // sampled at least once after COMMIT
    }
    await running;
    const counts: Record<string, number> = {};
    for (const table of tables) {
      const { rows } = await poll.query<{ n: string }>(
        `SELECT count(*) AS n FROM (${table.select.replace(/^SELECT \* FROM/, 'SELECT 1 FROM')}) t`,
      );
      counts[table.name] = Number(rows[0].n);
      if (counts[table.name] !== table.rows)
        throw new Error(`COPY: ${table.name} holds ${counts[table.name]} rows, expected ${table.rows}`);
    }
    return {
      seconds: seconds(doneAt - startAt),
      pgCpuSeconds: backends.seconds,
      machineBusySeconds: busyAtDone - busyAtStart,
      counts,
    };
  } finally {
    await poll.end();
    await database.drop();
  }
}

async function runPart(kafka: Kafka, recipe: Recipe) {
  const base = `bench_project_${recipe.replace(/-/g, '_')}_${Date.now().toString(36)}`;
  const replayPrefix = `${base}_r`;
  const part = {
    prefixes: [base, replayPrefix],
    slot: base,
    publication: base,
    schema: base,
    databases: [] as Array<{ drop: () => Promise<void> }>,
  };
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-project-'));
  const loadBefore = loadAverage();
  try {
    log(`${recipe}: generating the legacy rows`);
    const generateStart = Date.now();
    const legacy = await generate(recipe, base);
    const generateSeconds = seconds(Date.now() - generateStart);
    const [{ bytes: legacyBytes }] = await sql(
      `SELECT pg_total_relation_size($1::regclass)::bigint AS bytes`,
      [legacy.table],
    );
    log(
      `${recipe}: ${fmt(legacy.rows)} legacy rows in ${generateSeconds.toFixed(1)} s (${mib(Number(legacyBytes))})`,
    );

    const target = await createTargetDatabase('bench_project');
    part.databases.push(target);
    const definition = RECIPES[recipe].projection({ sourceSchema: base, env: process.env });
    const configOf = (prefix: string) =>
      writeConfig({
        prefix,
        slot: base,
        publication: base,
        tables: [legacy.table],
        targetUrl: target.url,
        projections: [{ recipe, sourceSchema: base }],
        projectorBatchEvents: options.batch,
      });
    const stagingTopic = `${base}.${legacy.table}`;
    // --direct: the projector reads capture's topic; otherwise a copy of it made visible at once (see the top)
    const projectPrefix = options.direct ? base : replayPrefix;
    const topic = `${projectPrefix}.${legacy.table}`;

    log(`${recipe}: tandem capture (snapshot into ${stagingTopic})`);
    const captureStart = Date.now();
    const capture = new Capture(configOf(base));
    const admin = kafka.admin();
    await admin.connect();
    while (!(await admin.listTopics()).includes(stagingTopic)) {
      if (!capture.running) throw new Error(`capture exited:\n${capture.tail()}`);
      await sleep(200);
    }
    await admin.disconnect();
    const staged = await TopicEnds.start(kafka, stagingTopic);
    await staged.waitFor(
      legacy.rows,
      () => capture.running,
      () => capture.tail(),
    );
    const captureSeconds = seconds(Date.now() - captureStart);
    await capture.stop();
    await staged.stop();
    log(
      `${recipe}: ${fmt(staged.count)} events (${mib(staged.bytes)}) in Kafka after ${captureSeconds.toFixed(1)} s; capture stopped`,
    );

    if (options.cpuProf) mkdirSync(PROF_DIR, { recursive: true });
    const profilesBefore = new Set(options.cpuProf ? readdirSync(PROF_DIR) : []);
    const poll = new Client({ connectionString: target.url });
    poll.on('error', (error) => log(`${recipe}: target connection: ${error.message}`));
    await poll.connect();
    const backends = new BackendCpu(poll, target.name, 'tandem-projector');
    log(
      `${recipe}: tandem project --projection ${recipe}${options.cpuProf ? ' (under --cpu-prof)' : ''}${options.direct ? ", on capture's topic" : ', on empty topics'}`,
    );
    const memorySampleFile = join(dir, 'memory-sample.json');
    if (options.memorySample) process.env.TANDEM_MEMORY_SAMPLE_FILE = memorySampleFile;
    const projector = new Projector(configOf(projectPrefix), recipe, [
      ...(options.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : []),
      ...(options.memorySample ? ['--import', join(__dirname, 'memory-sampler.mjs')] : []),
    ]);
    let done: Awaited<ReturnType<typeof waitForCheckpoints>>;
    let visible: { at: number; stats: ProcStats; copySeconds: number | null; busy: number };
    let busyAtDone = 0;
    let end: ProcStats;
    try {
      while (!projector.runningAt) {
        if (!projector.running) throw new Error(`the projector exited during start-up:\n${projector.tail()}`);
        await sleep(50);
      }
      let lastOffsets = staged.lastOffsets;
      if (options.direct) {
        visible = {
          at: projector.runningAt,
          stats: projector.atRunning!,
          copySeconds: null,
          busy: machineBusySeconds(),
        };
      } else {
        // Its consumer has joined and placed itself at its (empty) checkpoints before any record is visible.
        await waitForGroup(kafka, `tandem-projection.${projectPrefix}.${recipe}`);
        await sleep(3000);
        log(`${recipe}: copying the ${fmt(staged.count)} events into ${topic} in one Kafka transaction`);
        const copied = await copyInOneTransaction(kafka, stagingTopic, topic, staged.count);
        visible = {
          at: copied.committedAt,
          stats: projector.stats(),
          copySeconds: copied.seconds,
          busy: machineBusySeconds(),
        };
        log(`${recipe}: committed after ${copied.seconds.toFixed(1)} s; the projector sees them now`);
        lastOffsets = new Map([...copied.perPartition].map(([partition, n]) => [partition, BigInt(n - 1)]));
      }
      done = await waitForCheckpoints(poll, recipe, topic, lastOffsets, projector, backends, visible.at);
      // Indexes the projector builds once caught up (memory's HNSW) count too, as they do for COPY.
      const deferred = (definition.deferredIndexes ?? []).map((index) => index.name);
      while (deferred.length > 0) {
        const { rows } = await poll.query(
          `SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = ANY($2)`,
          [definition.schema, deferred],
        );
        if (rows.length === deferred.length) {
          done.doneAt = Date.now();
          break;
        }
        await sleep(100);
      }
      busyAtDone = machineBusySeconds();
      end = projector.stats();
      await backends.sample();
    } finally {
      await projector.stop().catch((e) => log(`${recipe}: ${e.message}`));
    }
    const projectSeconds = seconds(done.doneAt - visible.at);
    const memory = options.memorySample ? readMemorySample(memorySampleFile) : null;
    log(
      `${recipe}: projector took ${projectSeconds.toFixed(1)} s (start-up before it: ${seconds(projector.runningAt - projector.spawnedAt).toFixed(1)} s)`,
    );

    await sleep(1500); // the projector's backends have flushed their statistics
    const [{ n: targetTransactions }] = (
      await poll.query(
        `SELECT COALESCE(sum(n_tup_ins + n_tup_upd), 0)::int AS n FROM pg_stat_user_tables WHERE schemaname = 'tandem' AND relname = 'checkpoints'`,
      )
    ).rows; // every applied batch writes its checkpoint once, in its own transaction
    const tables = await projectedTables(poll, recipe, definition.schema, dir);
    const [{ n: quarantined }] = (
      await poll.query(`SELECT count(*)::int AS n FROM tandem.quarantine WHERE projection = $1`, [recipe])
    ).rows;
    const [{ bytes: targetBytes }] = (
      await poll.query(
        `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [definition.schema],
      )
    ).rows;
    await poll.end();
    const totalRows = tables.reduce((sum, t) => sum + t.rows, 0);

    log(`${recipe}: exporting ${fmt(totalRows)} rows with COPY … TO`);
    await psql(target.url, tables.map((t) => copyCommand(t, 'TO')).join('\n'));
    const copyBytes = tables.reduce((sum, t) => sum + fileBytes(t.file), 0);
    await target.drop(); // the reference runs without the first target beside it
    part.databases = [];
    log(`${recipe}: reference COPY … FROM of ${fmt(totalRows)} rows (${mib(copyBytes)} of COPY text)`);
    const copy = await copyReference(recipe, base, tables);
    log(`${recipe}: COPY took ${copy.seconds.toFixed(1)} s`);

    const profile = options.cpuProf
      ? readdirSync(PROF_DIR)
          .filter((f) => !profilesBefore.has(f))
          .map((f) => join(PROF_DIR, f))
      : [];
    const events = staged.count;
    const cpuSeconds = end.cpuSeconds - visible.stats.cpuSeconds;
    const rowsPerSecond = totalRows / projectSeconds;
    const copyRowsPerSecond = totalRows / copy.seconds;
    return {
      recipe,
      legacy: { ...legacy, generateSeconds, tableBytes: Number(legacyBytes) },
      capture: {
        seconds: captureSeconds,
        events,
        kafkaValueBytes: staged.bytes,
        copySeconds: visible.copySeconds,
      },
      projector: {
        batchEvents: options.batch,
        startupSeconds: seconds(projector.runningAt - projector.spawnedAt),
        firstCheckpointSeconds: done.firstCheckpointAt ? seconds(done.firstCheckpointAt - visible.at) : null,
        seconds: projectSeconds,
        eventsPerSecond: events / projectSeconds,
        rowsPerSecond,
        peakRssMb: end.peakRssMb,
        rssBeforeMb: visible.stats.rssMb,
        startupCpuSeconds: projector.atRunning!.cpuSeconds,
        cpuSeconds,
        cpuSecondsPer1kEvents: (cpuSeconds / events) * 1000,
        postgresCpuSeconds: backends.seconds,
        postgresBackends: backends.backends,
        postgresCpuSecondsPer1kEvents: (backends.seconds / events) * 1000,
        quarantined: Number(quarantined),
        targetTransactions,
        /** Cores busy on average over the whole machine meanwhile, and how many of them were this projector and its backends. */
        machineBusyCores: (busyAtDone - visible.busy) / projectSeconds,
        ownBusyCores: (cpuSeconds + backends.seconds) / projectSeconds,
        eventsPerTransaction: events / targetTransactions,
      },
      target: {
        rows: Object.fromEntries(tables.map((t) => [t.name, t.rows])),
        totalRows,
        bytes: Number(targetBytes),
        copyTextBytes: copyBytes,
      },
      copy: {
        seconds: copy.seconds,
        rowsPerSecond: copyRowsPerSecond,
        postgresCpuSeconds: copy.pgCpuSeconds,
        machineBusyCores: copy.machineBusySeconds / copy.seconds,
      },
      ratio: rowsPerSecond / copyRowsPerSecond,
      memory,
      loadAverage: { before: loadBefore, after: loadAverage() },
      profile,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cleanUp(kafka, part);
  }
}

interface MemorySample {
  peaks: Record<string, number>;
  atPeakRss: Record<string, number> & { spaces: Record<string, number> };
}

function readMemorySample(file: string): MemorySample | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as MemorySample;
  } catch {
    return null; // the projector did not exit through its own exit handlers
  }
}

function describeMemory(m: MemorySample): string {
  const figures = (values: Record<string, number>) =>
    Object.entries(values)
      .filter(([, bytes]) => typeof bytes === 'number')
      .map(([name, bytes]) => `${name} ${mib(bytes)}`)
      .join(', ');
  return `peaks: ${figures(m.peaks)}; at the peak RSS: ${figures(m.atPeakRss)}; heap spaces then: ${figures(m.atPeakRss.spaces)}`;
}

type PartResult = Awaited<ReturnType<typeof runPart>>;

function report(
  m: Awaited<ReturnType<typeof machine>> & { source: ReturnType<typeof sourceVersion> },
  results: PartResult[],
  errors: Record<string, string>,
): string {
  const lines = [
    `## Projection benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Command: \`npm run bench:project${argv.length ? ` -- ${argv.join(' ')}` : ''}\``,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel} (nproc ${m.cpus}), ${m.memoryGb} GB RAM (free -g); Node ${m.node}, PostgreSQL ${m.postgres}, Kafka ${m.kafka} (one local broker), all on the same machine.`,
    '',
    `Source: commit ${m.source.commit}${m.source.changedInSrc.length ? ` with ${m.source.changedInSrc.length} changed file(s) in src/` : ''}.`,
    '',
  ];
  for (const r of results) {
    const counts = Object.entries(r.target.rows)
      .map(([table, rows]) => `${table} ${fmt(rows)}`)
      .join(', ');
    lines.push(
      `${r.recipe}: ${fmt(r.legacy.rows)} legacy rows (${fmt(r.legacy.invalid)} invalid; table ${mib(r.legacy.tableBytes)}), ` +
        `${fmt(r.capture.events)} events (${mib(r.capture.kafkaValueBytes)} of event JSON, ${fmt(r.capture.kafkaValueBytes / r.capture.events)} bytes per event); ` +
        `target rows: ${counts} (${mib(r.target.bytes)} with indexes); ${fmt(r.projector.quarantined)} quarantined; ` +
        `${fmt(r.projector.targetTransactions)} target transactions (${fmt(r.projector.eventsPerTransaction, 1)} events each). ` +
        `Cores busy (of ${m.cpus}) while the projector ran: ${r.projector.machineBusyCores.toFixed(2)}, of which the projector and its backends ${r.projector.ownBusyCores.toFixed(2)}; ` +
        `while COPY ran: ${r.copy.machineBusyCores.toFixed(2)}, of which its backend ${(r.copy.postgresCpuSeconds / r.copy.seconds).toFixed(2)}. ` +
        `Load average before/after: ${r.loadAverage.before.join(' ')} / ${r.loadAverage.after.join(' ')}.`,
      '',
    );
  }
  lines.push(
    '| Recipe | Events | Target rows | Projector s (start-up) | Events/s | Target rows/s | COPY rows/s (s) | Ratio | Peak RSS | CPU s per 1k events: projector / its PostgreSQL backends | COPY backend CPU s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of results) {
    const p = r.projector;
    lines.push(
      `| ${r.recipe} | ${fmt(r.capture.events)} | ${fmt(r.target.totalRows)} | ${p.seconds.toFixed(1)} (${p.startupSeconds.toFixed(1)}) | **${fmt(p.eventsPerSecond)}** | **${fmt(p.rowsPerSecond)}** | ${fmt(r.copy.rowsPerSecond)} (${r.copy.seconds.toFixed(1)}) | **${r.ratio.toFixed(3)}** | ${fmt(p.peakRssMb)} MiB | ${p.cpuSecondsPer1kEvents.toFixed(2)} / ${p.postgresCpuSecondsPer1kEvents.toFixed(2)} | ${r.copy.postgresCpuSeconds.toFixed(1)} |`,
    );
  }
  for (const [part, message] of Object.entries(errors))
    lines.push(`| ${part} | FAILED: ${message.split('\n')[0]} |`);
  if (options.cpuProf)
    lines.push('', '(projectors ran under --cpu-prof: their figures are slowed by the profiler)');
  for (const r of results) if (r.memory) lines.push('', `${r.recipe} projector memory: ${describeMemory(r.memory)}`);
  return lines.join('\n');
}

/** The commit the projector runs, and the files of src/ changed since it (other work may change them meanwhile). */
function sourceVersion() {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT }).toString().trim();
  return {
    commit: git('rev-parse', '--short', 'HEAD'),
    changedInSrc: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean),
  };
}

async function main() {
  const kafka = testKafka();
  const m = { ...(await machine()), source: sourceVersion() };
  const results: PartResult[] = [];
  const errors: Record<string, string> = {};
  for (const recipe of options.parts) {
    if (recipe !== 'app-state' && recipe !== 'memory')
      throw new Error(`--parts: unknown part ${recipe} (app-state, memory)`);
    try {
      const result = await runPart(kafka, recipe);
      results.push(result);
      log(`${recipe}: ${JSON.stringify(result)}`);
    } catch (error) {
      errors[recipe] = (error as Error).message;
      log(`${recipe} FAILED: ${(error as Error).stack ?? error}`);
    }
  }
  const out = join(ROOT, '.tandem', 'bench');
  mkdirSync(out, { recursive: true });
  const file = join(out, `project-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  const after = sourceVersion();
  if (JSON.stringify(after) !== JSON.stringify(m.source))
    log(`WARNING: src/ changed during the run: ${JSON.stringify(m.source)} -> ${JSON.stringify(after)}`);
  writeFileSync(file, JSON.stringify({ options, machine: m, sourceAfter: after, results, errors }, null, 2));
  process.stdout.write(report(m, results, errors) + '\n');
  for (const result of results) {
    for (const profile of result.profile) {
      process.stdout.write(
        `\nCPU profile of the ${result.recipe} projector: ${profile} (${mib(statSync(profile).size)})\n\n${formatTop(topSelfTime(profile, 15))}\n`,
      );
    }
  }
  log(`results: ${file}`);
  process.exit(Object.keys(errors).length > 0 ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
