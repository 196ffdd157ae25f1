/**
 * The fault-injection soak (issue #6 §2): capture and a `users` projector run under a continuous
 * write load on the legacy database while the soak kills and restarts them and the services under
 * them, then checks that nothing was lost or doubled. Not part of `npm test`; run it with
 *
 *   npm run soak -- [--cycles 20] [--rows 150000] [--tps 100] [--seed 1] [--quick] [--cluster]
 *
 * --cluster runs on a three-broker Kafka cluster (replication factor 3, min.insync.replicas 2) and
 * replaces the broker kill with kill -9 of the change topic's partition leader, kill -9 of capture's
 * transaction coordinator and a rolling restart of all three brokers (test/soak/kafka-cluster-faults.ts).
 *
 * It runs on its own PostgreSQL clusters and Kafka broker (test/soak/soak-services.ts) and exits
 * non-zero on any violation. Results and every process's log go to .tandem/soak/runs/<run>/.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'fs';
import { cpus, loadavg, totalmem } from 'os';
import { join, resolve } from 'path';
import { parseArgs } from 'util';
import { Kafka, logLevel } from '../../src/connectors/kafka/kafkajs';
import { Client } from 'pg';
import { stringify } from 'yaml';
import { SeededRandom as Rng } from '../../src/shared/seeded-random';
import {
  SOAK_KAFKA,
  SOAK_LEGACY,
  SOAK_TARGET,
  clusterUrl,
  killAndRestartKafka,
  restartPostgresImmediate,
  soakBrokers,
  startSoakServices,
  useKafkaCluster,
} from './soak-services';
import {
  killAndRestartNode,
  leaderOf,
  rollingRestart,
  transactionCoordinatorOf,
  waitFullyReplicated,
} from './kafka-cluster-faults';
import { Supervised, type ExitRecord } from './supervisor';
import { createUsersTable, UserWriteLoad } from './user-load';
import {
  checkKafka,
  checkRows,
  readLegacyRows,
  rowCheckClean,
  type KafkaCheck,
  type RowCheck,
} from './verify';

interface SoakOptions {
  cycles: number;
  rows: number;
  tps: number;
  clients: number;
  cycleSeconds: [number, number];
  drainSeconds: number;
  seed: number;
  quick: boolean;
  cluster: boolean;
}

function parseOptions(): SoakOptions {
  const { values } = parseArgs({
    options: {
      cycles: { type: 'string' },
      rows: { type: 'string' },
      tps: { type: 'string' },
      clients: { type: 'string' },
      'cycle-seconds': { type: 'string' },
      'drain-seconds': { type: 'string' },
      seed: { type: 'string' },
      quick: { type: 'boolean', default: false },
      cluster: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick ?? false;
  const number = (value: string | undefined, fallback: number) =>
    value === undefined ? fallback : Number(value);
  const [low, high] = (values['cycle-seconds'] ?? (quick ? '2-5' : '6-14')).split('-').map(Number);
  return {
    cycles: number(values.cycles, quick ? 4 : 20),
    rows: number(values.rows, quick ? 20_000 : 150_000),
    tps: number(values.tps, quick ? 60 : 100),
    clients: number(values.clients, 2),
    cycleSeconds: [low, high ?? low],
    drainSeconds: number(values['drain-seconds'], 180),
    seed: number(values.seed, 1),
    quick,
    cluster: values.cluster ?? false,
  };
}

interface FaultRecord {
  cycle: number;
  fault: string;
  at: string;
  detail: string;
  /** What the pipeline did: rode through, or which process exited with what and was restarted. */
  outcome: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const options = parseOptions();
  const rng = new Rng(options.seed);
  const run = `soak_${Date.now().toString(36)}`;
  const runDir = resolve(__dirname, '..', '..', '.tandem', 'soak', 'runs', run);
  mkdirSync(runDir, { recursive: true });
  const started = Date.now();
  const log = (message: string) => {
    const line = `[soak +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`;
    process.stdout.write(`${line}\n`);
    appendFileSync(join(runDir, 'soak.log'), `${line}\n`);
  };
  const violations: string[] = [];
  const faults: FaultRecord[] = [];
  const unexpectedExits: ExitRecord[] = [];
  log(`run ${run}: ${JSON.stringify(options)}; logs in ${runDir}`);

  if (options.cluster) useKafkaCluster();
  log(
    `starting the soak services (PostgreSQL legacy :${SOAK_LEGACY.port}, target :${SOAK_TARGET.port}, Kafka ${soakBrokers().join(',')})`,
  );
  await startSoakServices();
  const legacyUrl = clusterUrl(SOAK_LEGACY, run);
  const targetUrl = clusterUrl(SOAK_TARGET, run);
  await prepareDatabases(run, options.rows, log);

  const configFile = join(runDir, 'tandem.yaml');
  writeFileSync(
    configFile,
    stringify({
      source: {
        url: legacyUrl,
        publication: run,
        slot: run,
        tables: ['public.auth_users'],
        snapshot: { chunkSize: 2000, parallelism: 1 },
        heartbeatIntervalMs: 1000,
      },
      kafka: {
        brokers: soakBrokers(),
        topicPrefix: run,
        partitions: 3,
        replicationFactor: options.cluster ? 3 : 1,
      },
      capture: { maxBatchEvents: 2000, maxBatchDelayMs: 50, statusIntervalMs: 5000 },
      target: { url: targetUrl },
      projections: [{ recipe: 'users', sourceSchema: 'public' }],
      projector: { maxBatchEvents: 500 },
    }),
  );

  /** Until the slot is dropped on purpose, capture must never report its state lost. */
  let slotDropped = false;
  const onExit = (record: ExitRecord) => {
    unexpectedExits.push(record);
    log(
      `${record.process} exited on its own (code ${record.code}${record.signal ? `, ${record.signal}` : ''}): ${record.lastError ?? ''}`,
    );
    if (record.code === 4 && !slotDropped)
      violations.push(
        `${record.process} reported its capture state lost (exit 4) during the soak: ${record.lastError}`,
      );
  };
  const capture = new Supervised('capture', ['capture', '--config', configFile], runDir, onExit);
  const projectorArgs = ['project', '--config', configFile, '--projection', 'users'];
  let projector = new Supervised('projector', projectorArgs, runDir, onExit);
  let load: UserWriteLoad | null = null;
  const kafka = new Kafka({ clientId: 'tandem-soak', brokers: soakBrokers(), logLevel: logLevel.NOTHING });

  /** Exits no one asked for since `since`, as an outcome line. */
  const outcomeSince = (since: number) => {
    const exits = unexpectedExits.filter((exit) => Date.parse(exit.at) >= since);
    if (exits.length === 0) return 'rode through: no process exited';
    return exits
      .map((exit) => `${exit.process} exited ${exit.code} (${exit.lastError ?? 'no message'}), restarted`)
      .join('; ');
  };

  /** The snapshot is over once any run of capture has logged that it streams. */
  let snapshotDone = false;
  const capturePhase = () => {
    if (/snapshot complete|streaming changes/.test(capture.output)) snapshotDone = true;
    if (/streaming changes/.test(capture.output)) return 'while streaming';
    if (/snapshot planned|resuming the snapshot/.test(capture.output))
      return 'during the snapshot (a chunk being read or committed)';
    return 'while starting';
  };
  const killCapture = async (cycle: number) => {
    const phase = capturePhase();
    await capture.kill9();
    const at = new Date().toISOString();
    const pause = rng.between(0.2, 2);
    await sleep(pause * 1000);
    capture.start();
    faults.push({
      cycle,
      fault: 'kill -9 capture',
      at,
      detail: phase,
      outcome: `restarted after ${pause.toFixed(1)} s`,
    });
    log(`cycle ${cycle}: kill -9 capture ${phase}; restarted after ${pause.toFixed(1)} s`);
  };

  const killProjector = async (victim: Supervised) => {
    // Strike a running projector, preferably while a batch's target transaction is open.
    await victim.waitForLog(/projectors running/, 120_000);
    const midBatch = await waitForProjectorTransaction(targetUrl, 5000);
    await victim.kill9();
    const at = new Date().toISOString();
    return { at, midBatch };
  };

  /** A service fault hits running processes: capture streaming (or reading the snapshot), the projector consuming. */
  const bothWorking = async () => {
    await capture.waitForLog(/streaming changes|snapshot planned|resuming the snapshot/, 180_000);
    await projector.waitForLog(/projectors running/, 180_000);
    await sleep(rng.between(1, 3) * 1000);
  };

  let stage = 'start';
  try {
    capture.start();
    if (!(await capture.waitForLog(/snapshot planned|streaming changes/, 180_000)))
      throw new Error(`capture did not start:\n${capture.output.slice(-3000)}`);
    log('capture is reading the snapshot; starting the projector and the write load');
    projector.start();
    load = new UserWriteLoad(
      legacyUrl,
      options.rows,
      new Rng(options.seed + 1),
      options.tps,
      options.clients,
    );

    // With fewer than four cycles some faults share a cycle (the legacy restart then comes second).
    const special = {
      kafka: Math.ceil(options.cycles * 0.25),
      twoProjectors: Math.ceil(options.cycles * 0.5),
      target: Math.ceil(options.cycles * 0.75),
      legacy: options.cycles,
    };
    for (let cycle = 1; cycle <= options.cycles; cycle++) {
      stage = `cycle ${cycle}`;
      capturePhase();
      if (!snapshotDone && cycle <= 2) {
        // The first cycles strike inside the snapshot: once this run reads chunks, within a chunk or two.
        await capture.waitForLog(/snapshot planned|resuming the snapshot|streaming changes/, 180_000);
        await sleep(rng.between(0.3, 2.5) * 1000);
      } else {
        // Later cycles let the snapshot finish first, so the kills also land while streaming.
        if (
          !snapshotDone &&
          !(await capture.waitForLog(/snapshot complete|streaming changes/, options.drainSeconds * 1000))
        ) {
          throw new Error(`capture did not finish the snapshot:\n${capture.output.slice(-3000)}`);
        }
        await capture.waitForLog(/streaming changes/, 120_000);
        await sleep(rng.between(...options.cycleSeconds) * 1000);
      }
      await killCapture(cycle);

      await sleep(rng.between(1, 4) * 1000);
      const { at, midBatch } = await killProjector(projector);
      const pause = rng.between(0.2, 2);
      await sleep(pause * 1000);
      projector.start();
      faults.push({
        cycle,
        fault: 'kill -9 projector',
        at,
        detail: midBatch ? 'during a batch apply (target transaction open)' : 'between batches',
        outcome: `restarted after ${pause.toFixed(1)} s`,
      });
      log(
        `cycle ${cycle}: kill -9 projector ${midBatch ? 'during a batch apply' : 'between batches'}; restarted after ${pause.toFixed(1)} s`,
      );

      if (options.cluster && cycle === special.kafka) {
        await bothWorking();
        const since = Date.now();
        const node = await leaderOf(kafka, `${run}.public.auth_users`);
        log(`cycle ${cycle}: kill -9 of Kafka node ${node}, leader of the change topic's partitions`);
        await killAndRestartNode(node, rng.between(2, 8) * 1000);
        const ms = await waitFullyReplicated(kafka);
        faults.push({
          cycle,
          fault: 'kill -9 of the change topic partitions\' leader broker + restart',
          at: new Date(since).toISOString(),
          detail: `node ${node} of 3; fully replicated ${(ms / 1000).toFixed(1)} s after its restart`,
          outcome: outcomeSince(since),
        });
        log(`cycle ${cycle}: node ${node} back; ${faults.at(-1)!.outcome}`);
      } else if (cycle === special.kafka) {
        await bothWorking();
        const since = Date.now();
        log(`cycle ${cycle}: kill -9 of the Kafka broker, then a start`);
        await killAndRestartKafka();
        await sleep(20_000);
        faults.push({
          cycle,
          fault: 'Kafka broker kill -9 + restart',
          at: new Date(since).toISOString(),
          detail: 'broker down while capture and projector run',
          outcome: outcomeSince(since),
        });
        log(`cycle ${cycle}: Kafka back; ${faults.at(-1)!.outcome}`);
      }
      if (options.cluster && cycle === special.twoProjectors) {
        await bothWorking();
        const since = Date.now();
        const node = await transactionCoordinatorOf(kafka, run, run);
        log(`cycle ${cycle}: kill -9 of Kafka node ${node}, capture's transaction coordinator`);
        await killAndRestartNode(node, rng.between(2, 8) * 1000);
        const ms = await waitFullyReplicated(kafka);
        faults.push({
          cycle,
          fault: "kill -9 of capture's transaction coordinator broker + restart",
          at: new Date(since).toISOString(),
          detail: `node ${node} of 3; fully replicated ${(ms / 1000).toFixed(1)} s after its restart`,
          outcome: outcomeSince(since),
        });
        log(`cycle ${cycle}: node ${node} back; ${faults.at(-1)!.outcome}`);
      }
      if (options.cluster && cycle === special.target) {
        await bothWorking();
        const since = Date.now();
        log(`cycle ${cycle}: rolling restart of the three Kafka brokers`);
        await rollingRestart(kafka, (m) => log(`cycle ${cycle}: ${m}`));
        faults.push({
          cycle,
          fault: 'rolling restart of all three brokers',
          at: new Date(since).toISOString(),
          detail: 'each broker SIGTERM, start, then wait until every partition is fully replicated',
          outcome: outcomeSince(since),
        });
        log(`cycle ${cycle}: rolling restart done; ${faults.at(-1)!.outcome}`);
      }
      if (cycle === special.twoProjectors) {
        await bothWorking();
        const since = Date.now();
        const second = new Supervised('projector-b', projectorArgs, runDir, onExit);
        second.start();
        const together = rng.between(10, 20);
        log(
          `cycle ${cycle}: a second projector for the same projection; both run for ${together.toFixed(0)} s`,
        );
        await sleep(together * 1000);
        const { midBatch: mid } = await killProjector(projector);
        projector = second; // the second one carries on alone
        faults.push({
          cycle,
          fault: 'projector started twice',
          at: new Date(since).toISOString(),
          detail: `two projectors of the same projection ran side by side for ${together.toFixed(0)} s, then the first was killed -9 ${mid ? 'during a batch apply' : 'between batches'}`,
          outcome: outcomeSince(since),
        });
        log(`cycle ${cycle}: first projector killed; ${faults.at(-1)!.outcome}`);
      }
      for (const cluster of [SOAK_TARGET, SOAK_LEGACY].filter((c) => cycle === special[c.name])) {
        await bothWorking();
        const since = Date.now();
        log(`cycle ${cycle}: pg_ctl restart -m immediate of the ${cluster.name} PostgreSQL`);
        await restartPostgresImmediate(cluster);
        await sleep(20_000);
        faults.push({
          cycle,
          fault: `${cluster.name} PostgreSQL restart -m immediate`,
          at: new Date(since).toISOString(),
          detail: `port ${cluster.port}`,
          outcome: outcomeSince(since),
        });
        log(`cycle ${cycle}: ${cluster.name} PostgreSQL back; ${faults.at(-1)!.outcome}`);
      }
    }

    stage = 'drain';
    await sleep(rng.between(...options.cycleSeconds) * 1000);
    await load.stop();
    log(
      `write load stopped: ${JSON.stringify(load.counts)}${load.lastError ? ` (last error: ${load.lastError})` : ''}`,
    );
    const drainStarted = Date.now();
    let legacy = await readLegacyRows(legacyUrl);
    let rows: RowCheck = await checkRows(legacy, targetUrl);
    // The projector may be far behind after the kills (each kill -9 leaves its partitions idle until
    // the group's session timeout): draining may take as long as it makes progress; a stall is a violation.
    let progressAt = Date.now();
    let lastOffsets = await appliedOffsets(targetUrl);
    while (!rowCheckClean(rows) && Date.now() - progressAt < options.drainSeconds * 1000) {
      await sleep(5000);
      rows = await checkRows(legacy, targetUrl);
      const offsets = await appliedOffsets(targetUrl);
      if (offsets !== lastOffsets) progressAt = Date.now();
      lastOffsets = offsets;
    }
    log(
      `drained in ${((Date.now() - drainStarted) / 1000).toFixed(1)} s: ${JSON.stringify({ ...rows, samples: rows.samples.slice(0, 5) })}`,
    );
    if (!rowCheckClean(rows)) {
      violations.push(
        `row-by-row compare after the projector made no progress for ${options.drainSeconds} s: ${JSON.stringify(rows)}`,
      );
    }

    stage = 'verify';
    legacy = await readLegacyRows(legacyUrl);
    const counters = new Map([...legacy].map(([id, row]) => [id, row.counter]));
    const kafkaCheck: KafkaCheck = await checkKafka(
      kafka,
      `${run}.public.auth_users`,
      `${run}.transaction`,
      counters,
    );
    log(`Kafka: ${JSON.stringify({ ...kafkaCheck, violations: kafkaCheck.violations.length })}`);
    violations.push(...kafkaCheck.violations.map((v) => `Kafka: ${v}`));

    const reconcile = new Supervised(
      'reconcile',
      [
        'reconcile',
        '--config',
        configFile,
        '--projection',
        'users',
        '--threshold',
        '0',
        '--report',
        join(runDir, 'reconcile'),
      ],
      runDir,
    );
    reconcile.autoRestart = false;
    reconcile.start();
    await reconcile.waitForExit();
    const reconcileCode = reconcile.exits.at(-1)?.code ?? null;
    log(`tandem reconcile --threshold 0: exit ${reconcileCode} (${reconcileCode === 0 ? 'PASS' : 'FAIL'})`);
    if (reconcileCode !== 0)
      violations.push(`tandem reconcile exited ${reconcileCode}:\n${reconcile.output.slice(-2000)}`);

    stage = 'slot dropped';
    slotDropped = true;
    const slotDrop = await dropSlotBehindCapture(run, legacyUrl, capture, log);
    faults.push({
      cycle: options.cycles + 1,
      fault: 'slot dropped behind capture',
      at: slotDrop.at,
      detail: slotDrop.detail,
      outcome: slotDrop.outcome,
    });
    violations.push(...slotDrop.violations);

    const summary = {
      run,
      options,
      seconds: Math.round((Date.now() - started) / 1000),
      machine: machine(),
      load: load.counts,
      faults,
      unexpectedExits,
      restarts: { capture: capture.restarts, projector: projector.restarts },
      rows,
      kafka: { ...kafkaCheck, violations: kafkaCheck.violations.length },
      kafkaBrokers: SOAK_KAFKA.nodes,
      reconcile: reconcileCode === 0 ? 'PASS' : `FAIL (exit ${reconcileCode})`,
      violations,
    };
    writeFileSync(join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    printSummary(summary, log);
  } catch (error) {
    violations.push(`the soak itself failed in ${stage}: ${(error as Error).stack ?? error}`);
    log(violations.at(-1)!);
  } finally {
    await load?.stop();
    capture.autoRestart = false;
    projector.autoRestart = false;
    await Promise.all([capture.stop(), projector.stop()]);
  }
  log(
    violations.length === 0
      ? 'SOAK PASSED: nothing lost, nothing doubled'
      : `SOAK FAILED: ${violations.length} violation(s):\n${violations.join('\n')}`,
  );
  process.exit(violations.length === 0 ? 0 : 1);
}

/** A fresh database on each cluster for this run; earlier runs' databases and slots are dropped. */
async function prepareDatabases(run: string, rows: number, log: (m: string) => void): Promise<void> {
  const legacyAdmin = new Client({ connectionString: clusterUrl(SOAK_LEGACY, 'legacy') });
  const targetAdmin = new Client({ connectionString: clusterUrl(SOAK_TARGET, 'target') });
  await legacyAdmin.connect();
  await targetAdmin.connect();
  try {
    await legacyAdmin.query(
      `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'soak\\_%' AND NOT active`,
    );
    for (const admin of [legacyAdmin, targetAdmin]) {
      const { rows: old } = await admin.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE datname LIKE 'soak\\_%'`,
      );
      for (const { datname } of old) await admin.query(`DROP DATABASE "${datname}" WITH (FORCE)`);
      await admin.query(`CREATE DATABASE "${run}"`);
    }
  } finally {
    await legacyAdmin.end();
    await targetAdmin.end();
  }
  const legacy = new Client({ connectionString: clusterUrl(SOAK_LEGACY, run) });
  await legacy.connect();
  try {
    const began = Date.now();
    await createUsersTable(legacy, rows);
    log(`legacy table public.auth_users: ${rows} rows in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  } finally {
    await legacy.end();
  }
}

/** The sum of the projection's checkpointed offsets: it grows while the projector applies. */
async function appliedOffsets(targetUrl: string): Promise<string> {
  const client = new Client({ connectionString: targetUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ total: string | null }>(
      `SELECT sum("offset")::text AS total FROM tandem.checkpoints WHERE projection = 'users'`,
    );
    return rows[0].total ?? '0';
  } finally {
    await client.end();
  }
}

/** Waits up to timeoutMs for a projector session with an open target transaction; true if one was seen. */
async function waitForProjectorTransaction(targetUrl: string, timeoutMs: number): Promise<boolean> {
  const client = new Client({ connectionString: targetUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = 'tandem-projector' AND datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()`,
      );
      if (rows.length > 0) return true;
      await sleep(5);
    }
    return false;
  } finally {
    await client.end();
  }
}

/**
 * The slot dropped behind Tandem's back while capture streams: its walsender is terminated and the
 * slot dropped. Capture must stop, and a restart must refuse with exit 4 and a message asking for a
 * re-snapshot, never stream on (nor create a new slot silently).
 */
async function dropSlotBehindCapture(
  slot: string,
  legacyUrl: string,
  capture: Supervised,
  log: (m: string) => void,
) {
  const violations: string[] = [];
  capture.autoRestart = false;
  const client = new Client({ connectionString: legacyUrl });
  await client.connect();
  const at = new Date().toISOString();
  try {
    await client.query(
      `INSERT INTO public.auth_users (n, email) VALUES (-1, 'after-slot-drop@soak.example')`,
    );
    let dropped = false;
    for (let attempt = 0; attempt < 100 && !dropped; attempt++) {
      await client.query(
        'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
        [slot],
      );
      try {
        await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
        dropped = true;
      } catch {
        await sleep(100);
      }
    }
    if (!dropped) throw new Error(`could not drop slot ${slot}`);
    log(`slot ${slot} dropped behind capture's back`);
    const exitedAlone = await Promise.race([
      capture.waitForExit().then(() => true),
      sleep(60_000).then(() => false),
    ]);
    const first = capture.exits.at(-1);
    const firstText = exitedAlone
      ? `running capture exited ${first?.code}: ${first?.lastError}`
      : 'running capture did not exit within 60 s';
    log(firstText);
    if (!exitedAlone) {
      violations.push('capture kept running for 60 s after its slot was dropped');
      await capture.stop();
    }
    capture.start();
    // Five minutes: under a load average of 40-50 a capture process took three minutes to start.
    const refused = await Promise.race([
      capture.waitForExit().then(() => true),
      sleep(300_000).then(() => false),
    ]);
    const second = capture.exits.at(-1);
    const secondText = refused
      ? `restarted capture exited ${second?.code}: ${second?.lastError}`
      : 'restarted capture neither exited nor refused within 300 s';
    log(secondText);
    if (!refused || second?.code !== 4 || !/re-snapshot/.test(second?.lastError ?? '')) {
      violations.push(
        `after the slot was dropped, a restarted capture must exit 4 asking for a re-snapshot: ${secondText}`,
      );
      await capture.stop();
    }
    const { rows } = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (rows.length > 0) violations.push(`capture created slot ${slot} again without --resnapshot`);
    return {
      at,
      detail:
        'walsender terminated and slot dropped while capture streamed; capture restarted once by the soak',
      outcome: `${firstText}; ${secondText}`,
      violations,
    };
  } finally {
    await client.end();
  }
}

function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average at the end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`;
}

function printSummary(summary: Record<string, any>, log: (m: string) => void): void {
  log('---- summary ----');
  log(
    `faults: ${summary.faults.length} (${summary.faults.filter((f: FaultRecord) => f.fault.startsWith('kill -9')).length} kill -9 of capture/projector)`,
  );
  for (const fault of summary.faults as FaultRecord[])
    log(`  [${fault.cycle}] ${fault.fault} — ${fault.detail} — ${fault.outcome}`);
  log(`load: ${JSON.stringify(summary.load)}`);
  log(
    `Kafka: ${summary.kafka.changeEvents} change events (${summary.kafka.snapshotEvents} snapshot, ${summary.kafka.streamingEvents} streaming), ${summary.kafka.tombstones} tombstones, ${summary.kafka.transactionMarkers} transaction markers`,
  );
  log(
    `rows: legacy ${summary.rows.legacyRows}, target ${summary.rows.targetRows}, missing ${summary.rows.missing}, extra ${summary.rows.extra}, mismatched ${summary.rows.mismatched}, duplicates ${summary.rows.duplicateTargetRows}, quarantined ${summary.rows.quarantined}`,
  );
  log(`reconcile: ${summary.reconcile}`);
}

void main();
