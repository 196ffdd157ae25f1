/**
 * Mirror benchmark (not a test: nothing here asserts a timing). One 6-column table with a secondary
 * index, N rows:
 *
 *   1. `tandem capture` (in process) snapshots the legacy table into Kafka, then is stopped (not measured);
 *   2. a mirror projection (in process) into a fresh target database: timed from its start until
 *      its checkpoints reach the end of every partition (rows applied), and until its deferred index
 *      is built. Peak RSS of this process while it projects (it holds only the projector then);
 *   3. reference, in the same run: `psql -c "\copy (SELECT …) TO STDOUT" | psql -c "\copy … FROM STDIN"`
 *      into the same table (same columns, primary key and index) in another fresh database.
 *
 *   npm run bench:mirror -- [--rows 1000000] [--batch 2000]
 */
import { execSync } from 'child_process';
import { Client } from 'pg';
import { validateConfig } from '../../src/modules/config/load-config';
import { CaptureService } from '../../src/modules/capture/capture.service';
import { ProjectionService } from '../../src/modules/projection/projection.service';
import { createLogger } from '../../src/shared/logger';
import { coversEnd } from '../../src/contracts/positions';
import { createTargetDatabase } from '../../test/support/target-db';
import { dropSlot, env, sql, testKafka, uniqueName } from '../../test/support/services';
import { loadAverage } from '../project/support';
import { arg, fmt } from '../cli-args';

const rows = Number(arg('rows', '1000000'));
const batch = Number(arg('batch', '2000'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TABLE = `(id bigint PRIMARY KEY, account int NOT NULL, label text, amount numeric(12,2), created_at timestamptz NOT NULL, active boolean)`;

async function main(): Promise<void> {
  const name = uniqueName('bench_mirror');
  const logger = createLogger('bench', 'warn');
  const load = [loadAverage()];
  await sql(`CREATE SCHEMA ${name}`);
  await sql(`CREATE TABLE ${name}.items ${TABLE}`);
  await sql(`CREATE INDEX items_account ON ${name}.items (account)`);
  await sql(`INSERT INTO ${name}.items SELECT g, g % 5000, 'item ' || g, (g % 100000) / 100.0, timestamptz '2024-01-01' + g * interval '1 second', g % 2 = 0
             FROM generate_series(1, ${rows}) g`);
  const target = await createTargetDatabase('bench_mirror');
  const reference = await createTargetDatabase('bench_mirror_ref');
  const config = validateConfig(
    {
      source: { url: env.sourceUrl(), slot: name, publication: name, tables: [`${name}.items`], heartbeatIntervalMs: 1000, snapshot: { chunkSize: 20000 } },
      kafka: { brokers: env.brokers(), topicPrefix: name, partitions: 3 },
      target: { url: target.url },
      projections: [{ name: 'items', mirror: { schema: 'mirror', tables: [`${name}.items`] } }],
      projector: { maxBatchEvents: batch },
    },
    'bench',
  );
  try {
    const capture = new CaptureService(config, logger);
    const running = capture.run();
    while (capture.status().role !== 'streaming') await sleep(500);
    await capture.stop();
    await running;
    console.log(`captured ${fmt(rows)} rows into Kafka`);

    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(`${name}.${name}.items`);
    await admin.disconnect();
    const projector = new ProjectionService(config, logger);
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
    const started = Date.now();
    await projector.start();
    const client = new Client({ connectionString: target.url });
    await client.connect();
    let appliedMs = 0;
    for (;;) {
      const { rows: checkpoints } = await client.query<{ partition: number; offset: string }>(`SELECT partition, "offset"::text FROM tandem.checkpoints WHERE projection = 'items'`);
      const done = ends.every((end) => {
        const checkpoint = checkpoints.find((row) => row.partition === end.partition);
        return BigInt(end.high) === BigInt(end.low) || (checkpoint !== undefined && coversEnd(BigInt(checkpoint.offset), BigInt(end.high)));
      });
      if (done && appliedMs === 0) appliedMs = Date.now() - started;
      const { rows: index } = await client.query(`SELECT 1 FROM pg_indexes WHERE schemaname = 'mirror' AND indexname = 'items_account'`);
      if (appliedMs > 0 && index.length > 0) break;
      await sleep(250);
    }
    const indexedMs = Date.now() - started;
    clearInterval(sampler);
    await projector.stop();
    const { rows: count } = await client.query(`SELECT count(*)::int AS n FROM mirror.items`);
    await client.end();
    load.push(loadAverage());

    const ref = new Client({ connectionString: reference.url });
    await ref.connect();
    await ref.query(`CREATE TABLE items ${TABLE}`);
    await ref.query(`CREATE INDEX items_account ON items (account)`);
    await ref.end();
    const copyStarted = Date.now();
    execSync(
      `psql "${env.sourceUrl()}" -qc "\\copy (SELECT * FROM ${name}.items) TO STDOUT" | psql "${reference.url}" -qc "\\copy items FROM STDIN"`,
      { stdio: ['ignore', 'ignore', 'inherit'], shell: '/bin/bash' },
    );
    const copyMs = Date.now() - copyStarted;
    load.push(loadAverage());

    const perSecond = (ms: number) => rows / (ms / 1000);
    console.log(`rows in the mirror: ${fmt(count[0].n)}`);
    console.log(`| run | rows | time | rows/s | ratio to COPY |`);
    console.log(`| --- | ---: | ---: | ---: | ---: |`);
    console.log(`| mirror projection, rows applied (Kafka → target) | ${fmt(rows)} | ${fmt(appliedMs / 1000, 1)} s | ${fmt(perSecond(appliedMs))} | ${fmt(perSecond(appliedMs) / perSecond(copyMs), 2)} |`);
    console.log(`| mirror projection, + deferred index built | ${fmt(rows)} | ${fmt(indexedMs / 1000, 1)} s | ${fmt(perSecond(indexedMs))} | ${fmt(perSecond(indexedMs) / perSecond(copyMs), 2)} |`);
    console.log(`| COPY … TO STDOUT \\| COPY … FROM STDIN (indexed table) | ${fmt(rows)} | ${fmt(copyMs / 1000, 1)} s | ${fmt(perSecond(copyMs))} | 1.00 |`);
    console.log(`peak RSS of the bench process while projecting: ${fmt(peakRss / 2 ** 20)} MiB`);
    console.log(`load average (1, 5, 15 min) before / after the mirror / after COPY: ${load.map((l) => l.join(' ')).join(' / ')}`);
  } finally {
    await dropSlot(name).catch(() => undefined);
    await sql(`DROP PUBLICATION IF EXISTS ${name}`).catch(() => undefined);
    await sql(`DROP SCHEMA ${name} CASCADE`).catch(() => undefined);
    await target.drop();
    await reference.drop();
    const admin = testKafka().admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(`${name}.`));
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
