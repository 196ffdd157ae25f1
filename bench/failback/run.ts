/**
 * Failback benchmark (not a test: nothing here asserts a timing). A mirrored table, `--rate` single-row
 * INSERT transactions per second for `--seconds`, each timed from its COMMIT returning to the row being
 * visible on the other side (a poller reads the other database every 5 ms):
 *
 *   reference: before the cutover, written to legacy → capture → Kafka → projector → target;
 *   failback:  after `cutover commit`, written to the target → failback capture → Kafka → applier → legacy;
 *
 * both in this one process, one after the other, on the same services. Then `rollback` through
 * failback, with its write-freeze window (target frozen → legacy unfrozen).
 *
 *   npm run bench:failback -- [--rate 500] [--seconds 30]
 */
import { Client, Pool } from 'pg';
import { validateConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { CutoverService } from '../../src/modules/cutover/cutover.service';
import { FailbackService } from '../../src/modules/failback/failback.service';
import { rollbackThroughFailback } from '../../src/modules/failback/failback-rollback';
import { createLogger } from '../../src/shared/logger';
import { createTargetDatabase } from '../../test/support/target-db';
import { dropSlot, env, sql, uniqueName } from '../../test/support/services';
import { loadAverage } from '../project/support';
import { arg, fmt } from '../cli-args';

const rate = Number(arg('rate', '500'));
const seconds = Number(arg('seconds', '30'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Phase {
  name: string;
  achievedRate: number;
  latencies: number[];
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** Writes `rate` inserts/s into `writeUrl`'s table and times each until `readUrl`'s table shows it. */
async function phase(name: string, writeUrl: string, writeTable: string, readUrl: string, readTable: string, firstId: number): Promise<Phase> {
  const writers = new Pool({ connectionString: writeUrl, max: 8 });
  const reader = new Client({ connectionString: readUrl });
  await reader.connect();
  const committedAt = new Map<number, number>();
  const latencies: number[] = [];
  const total = rate * seconds;
  let stop = false;
  let lowest = firstId;
  const poll = (async () => {
    while (!stop || committedAt.size > 0) {
      const { rows } = await reader.query<{ id: string }>(`SELECT id::text FROM ${readTable} WHERE id >= $1 AND id < $2`, [lowest, firstId + total]);
      const now = Date.now();
      for (const { id } of rows) {
        const at = committedAt.get(Number(id));
        if (at !== undefined) {
          latencies.push(now - at);
          committedAt.delete(Number(id));
        }
      }
      lowest = committedAt.size === 0 ? lowest : Math.min(...committedAt.keys());
      await sleep(5);
    }
  })();
  const started = Date.now();
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    if (due > Date.now()) await sleep(due - Date.now());
    const id = firstId + i;
    inFlight.push(
      writers.query(`INSERT INTO ${writeTable} (id, v, note) VALUES ($1, $2, 'bench')`, [id, i]).then(() => {
        committedAt.set(id, Date.now());
      }),
    );
  }
  await Promise.all(inFlight);
  const achievedRate = total / ((Date.now() - started) / 1000);
  const deadline = Date.now() + 300_000;
  while (latencies.length < total && Date.now() < deadline) await sleep(100);
  stop = true;
  committedAt.clear();
  await poll;
  await writers.end();
  await reader.end();
  return { name, achievedRate, latencies: latencies.sort((a, b) => a - b) };
}

async function main(): Promise<void> {
  const name = uniqueName('bench_fb');
  const logger = createLogger('bench', 'warn');
  const load = [loadAverage()];
  await sql(`CREATE SCHEMA ${name}`);
  await sql(`CREATE TABLE ${name}.items (id bigint PRIMARY KEY, v int NOT NULL, note text, written_at timestamptz NOT NULL DEFAULT now())`);
  await sql(`INSERT INTO ${name}.items (id, v) SELECT g, g FROM generate_series(1, 1000) g`);
  await sql(`CREATE ROLE ${name}_app LOGIN`);
  await sql(`CREATE ROLE ${name}_new LOGIN`);
  const target = await createTargetDatabase('bench_fb');
  const config = validateConfig(
    {
      source: { url: env.sourceUrl(), slot: name, publication: name, tables: [`${name}.items`], heartbeatIntervalMs: 1000 },
      kafka: { brokers: env.brokers(), topicPrefix: name, partitions: 3 },
      target: { url: target.url },
      capture: { maxBatchDelayMs: 10, statusIntervalMs: 1000 },
      cutover: { applicationRoles: [`${name}_app`] },
      failback: { applicationRoles: [`${name}_new`], maxLagRecords: 1_000_000 },
      projections: [{ name: 'items', mirror: { schema: 'mirror', tables: [`${name}.items`] } }],
    },
    'bench',
  );
  const capture = new CaptureService(config, logger);
  const captureRun = capture.run();
  captureRun.catch((error) => console.error('capture failed', error));
  const projector = new ProjectionService(config, logger);
  let failback: FailbackService | null = null;
  const phases: Phase[] = [];
  try {
    while (capture.status().role !== 'streaming') await sleep(500);
    await projector.start();
    const targetClient = new Client({ connectionString: target.url });
    await targetClient.connect();
    while (Number((await targetClient.query('SELECT count(*) AS n FROM mirror.items')).rows[0].n) < 1000) await sleep(500);
    await targetClient.end();

    phases.push(await phase('reference: legacy → target (capture → projector)', env.sourceUrl(), `${name}.items`, target.url, 'mirror.items', 100_000));
    load.push(loadAverage());

    const cutovers = new CutoverService(config, logger);
    let cutoverId: number;
    try {
      const planned = await cutovers.plan({ operator: 'bench' });
      await cutovers.start(planned.cutover.id, { operator: 'bench' });
      cutoverId = (await cutovers.commit(planned.cutover.id, { operator: 'bench' })).id;
    } finally {
      await cutovers.close();
    }
    failback = new FailbackService(config, logger);
    const failbackRun = failback.run(await failback.record(cutoverId));
    failbackRun.catch(() => undefined); // ends when the rollback drops its slot
    while (failback.status().capture?.role !== 'streaming') await sleep(500);

    phases.push(await phase('failback: target → legacy (failback capture → applier)', target.url, 'mirror.items', env.sourceUrl(), `${name}.items`, 200_000));
    load.push(loadAverage());

    while (!(await failback.readLag(cutoverId)).caughtUp) await sleep(200);
    const rolledBack = await rollbackThroughFailback(failback, config, logger, cutoverId, { operator: 'bench' });
    load.push(loadAverage());

    console.log(`\nfailback benchmark: ${fmt(rate)} single-row INSERT transactions/s for ${seconds} s per phase; load average ${load.map((l) => l[0].toFixed(1)).join(' → ')}`);
    console.log('| phase | writes/s achieved | rows seen | p50 ms | p95 ms | p99 ms | max ms |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const p of phases) {
      const l = p.latencies;
      console.log(`| ${p.name} | ${fmt(p.achievedRate)} | ${fmt(l.length)} | ${fmt(quantile(l, 0.5))} | ${fmt(quantile(l, 0.95))} | ${fmt(quantile(l, 0.99))} | ${fmt(l[l.length - 1])} |`);
    }
    const [reference, back] = phases;
    console.log(`failback p99 ÷ reference p99: ${(quantile(back.latencies, 0.99) / quantile(reference.latencies, 0.99)).toFixed(2)}`);
    console.log(`rollback write-freeze window (target frozen → legacy unfrozen): ${String(rolledBack.rollback?.freezeWindowMs)} ms`);
  } finally {
    await failback?.stop().catch(() => undefined);
    await failback?.close().catch(() => undefined);
    await projector.stop().catch(() => undefined);
    await capture.stop().catch(() => undefined);
    await captureRun.catch(() => undefined);
    await dropSlot(name).catch(() => undefined);
    await sql(`DROP SCHEMA ${name} CASCADE`).catch(() => undefined);
    for (const role of [`${name}_app`, `${name}_new`]) {
      await sql(`ALTER ROLE ${role} RESET ALL`).catch(() => undefined);
      await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
    await target.drop().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
