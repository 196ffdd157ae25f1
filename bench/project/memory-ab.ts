/**
 * Projector memory, A B A B on the same captured topic (not a test: nothing here asserts a figure).
 *
 *   1. the recipe's demo generator writes the legacy rows, `tandem capture` snapshots them into Kafka
 *      (as bench:project does);
 *   2. --big-transaction: the records are copied into a second topic with every event's
 *      `transaction` set to ONE source transaction (same partitions, keys and order), as a single
 *      huge legacy transaction would arrive;
 *   3. per round, for each CLI given (--cli a.js,b.js: CLIs compiled with
 *      `npx tsc -p tsconfig.build.json --outDir DIR`, DIR/cli/main.js), `tandem project` against a
 *      fresh target database reads the whole topic; timed from "projectors running" until its
 *      checkpoints reach every partition's last offset. Peak RSS (VmHWM), CPU (utime + stime), and
 *      the peaks of process.memoryUsage() (memory-sampler.mjs).
 *
 * A CLI given as `path?NAME=value&…` runs with these environment variables, and `path?node=--flag`
 * with these node (V8) flags.
 *
 *   npm run bench:project-memory -- --cli A/cli/main.js,B/cli/main.js [--recipe app-state|memory]
 *                                   [--rows 5000] [--rounds 2] [--big-transaction] [--batch 2000]
 */
import { spawn } from 'child_process';
import { mkdtempSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Client } from 'pg';
import type { Kafka } from 'kafkajs';
import { testKafka, withSource } from '../../test/support/services';
import { writeConfig } from '../../test/support/capture-process';
import { createTargetDatabase } from '../../test/support/target-db';
import { createLegacyAppState, generateAppStates } from '../../demo/app-state';
import { createLegacyMemory, generateMemoryNodes } from '../../demo/memory';
import { Capture, log, procStats, sleep, type ProcStats } from '../capture/support';
import { TopicEnds, cleanUp, loadAverage, withoutServiceAddresses } from './support';
import { arg, flag, fmt } from '../cli-args';

const options = {
  clis: arg('cli', '').split(',').filter(Boolean),
  recipe: arg('recipe', 'app-state') as 'app-state' | 'memory',
  rows: Number(arg('rows', '5000')),
  rounds: Number(arg('rounds', '2')),
  batch: Number(arg('batch', '2000')),
  bigTransaction: flag('big-transaction'),
};

async function generate(schema: string): Promise<{ table: string; rows: number }> {
  return withSource(async (client) => {
    if (options.recipe === 'app-state') {
      await createLegacyAppState(client, schema);
      const summary = await generateAppStates(client, schema, { users: options.rows, duplicateRatio: 0.1, badRatio: 0, seed: 1 });
      return { table: `${schema}.user_app_state`, rows: summary.rows };
    }
    await createLegacyMemory(client, schema);
    const result = await generateMemoryNodes(client, schema, { nodes: options.rows, users: 200, tenants: 20, seed: 1, badRatio: 0 });
    return { table: `${schema}.memory_nodes`, rows: result.inserted };
  });
}

/** Copies `from` into `to` record by record (same partition and key), every event in one source transaction. */
async function copyAsOneTransaction(kafka: Kafka, from: string, to: string, expected: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: to, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '16777216' }] }] });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `tandem-bench-${Date.now()}`, readUncommitted: false });
  let copied = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: from, fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      let order = copied;
      const messages = batch.messages.map((message) => {
        const event = JSON.parse(message.value!.toString());
        event.transaction = { id: 'one-big-transaction', total_order: ++order, data_collection_order: order };
        return { partition: batch.partition, key: message.key, value: JSON.stringify(event) };
      });
      for (let i = 0; i < messages.length; i += 100) await producer.send({ topic: to, acks: -1, messages: messages.slice(i, i + 100) });
      copied += messages.length;
    },
  });
  while (copied < expected) await sleep(200);
  await consumer.disconnect();
  await producer.disconnect();
}

interface Run {
  cli: string;
  seconds: number;
  peakRssMb: number;
  cpuSeconds: number;
  memory: { peaks: Record<string, number> } | null;
  load: number[];
}

async function project(variant: string, configFile: string, targetUrl: string, topic: string, lastOffsets: Map<number, bigint>): Promise<Run> {
  // `path?NAME=value&…`: the CLI at path with these environment variables (NODE_OPTIONS, say)
  const [cli, query] = variant.split('?');
  const { node: nodeFlags, ...extraEnv } = Object.fromEntries(new URLSearchParams(query ?? ''));
  const sampleFile = join(mkdtempSync(join(tmpdir(), 'tandem-bench-mem-')), 'sample.json');
  const child = spawn(process.execPath, [...(nodeFlags ? nodeFlags.split(' ') : []), '--import', join(__dirname, 'memory-sampler.mjs'), cli, 'project', '--config', configFile, '--projection', options.recipe], {
    env: { ...withoutServiceAddresses(), TANDEM_MEMORY_SAMPLE_FILE: sampleFile, TANDEM_LOG_LEVEL: 'info', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let runningAt = 0;
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
    if (!runningAt && output.includes('"projectors running"')) runningAt = Date.now();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const poll = new Client({ connectionString: targetUrl });
  await poll.connect();
  let end: ProcStats;
  try {
    while (!runningAt) {
      if (child.exitCode !== null) throw new Error(`projector exited:\n${output}`);
      await sleep(50);
    }
    const atRunning = procStats(child.pid!);
    for (;;) {
      await sleep(100);
      if (child.exitCode !== null) throw new Error(`projector exited:\n${output}`);
      const rows = await poll
        .query(`SELECT partition, "offset"::text AS "offset" FROM tandem.checkpoints WHERE topic = $1`, [topic])
        .then((r) => r.rows as Array<{ partition: number; offset: string }>)
        .catch(() => []);
      const applied = new Map(rows.map((row) => [row.partition, BigInt(row.offset)]));
      if ([...lastOffsets].every(([partition, last]) => (applied.get(partition) ?? -1n) >= last)) break;
    }
    end = procStats(child.pid!);
    end.cpuSeconds -= atRunning.cpuSeconds;
  } finally {
    await poll.end();
    child.kill('SIGTERM');
  }
  const doneAt = Date.now();
  await exited;
  let memory = null;
  try {
    memory = JSON.parse(readFileSync(sampleFile, 'utf8'));
  } catch {
    memory = null;
  }
  return { cli: variant, seconds: (doneAt - runningAt) / 1000, peakRssMb: end.peakRssMb, cpuSeconds: end.cpuSeconds, memory, load: loadAverage() };
}

async function main() {
  if (options.clis.length === 0) throw new Error('--cli A/cli/main.js[,B/cli/main.js]');
  const kafka = testKafka();
  const base = `bench_project_mem_${Date.now().toString(36)}`;
  const part = { prefixes: [base, `${base}_t`], slot: base, publication: base, schema: base, databases: [] as Array<{ drop: () => Promise<void> }> };
  try {
    log(`${options.recipe}: generating ${fmt(options.rows)} legacy rows`);
    const legacy = await generate(base);
    const configOf = (prefix: string, targetUrl?: string) =>
      writeConfig({ prefix, slot: base, publication: base, tables: [legacy.table], targetUrl, projections: [{ recipe: options.recipe, sourceSchema: base }], projectorBatchEvents: options.batch });
    const captured = `${base}.${legacy.table}`;
    const capture = new Capture(configOf(base));
    const admin = kafka.admin();
    await admin.connect();
    while (!(await admin.listTopics()).includes(captured)) await sleep(500);
    await admin.disconnect();
    const staged = await TopicEnds.start(kafka, captured);
    await staged.waitFor(legacy.rows, () => capture.running, () => capture.tail());
    await capture.stop();
    await staged.stop();
    log(`${fmt(staged.count)} events (${fmt(staged.bytes / 2 ** 20)} MiB) captured`);
    let prefix = base;
    let lastOffsets = staged.lastOffsets;
    if (options.bigTransaction) {
      prefix = `${base}_t`;
      await copyAsOneTransaction(kafka, captured, `${prefix}.${legacy.table}`, staged.count);
      const ends = await TopicEnds.start(kafka, `${prefix}.${legacy.table}`);
      await ends.waitFor(staged.count, () => true, () => '');
      await ends.stop();
      lastOffsets = ends.lastOffsets;
      log(`copied as one source transaction into ${prefix}.${legacy.table}`);
    }
    const runs: Run[] = [];
    for (let round = 0; round < options.rounds; round++) {
      for (const cli of options.clis) {
        const target = await createTargetDatabase('bench_project_mem');
        try {
          const run = await project(cli, configOf(prefix, target.url), target.url, `${prefix}.${legacy.table}`, lastOffsets);
          runs.push(run);
          log(`round ${round + 1} ${cli}: ${JSON.stringify(run)}`);
        } finally {
          await target.drop();
        }
      }
    }
    process.stdout.write(
      [
        `${options.recipe}${options.bigTransaction ? ' (one source transaction)' : ''}: ${fmt(staged.count)} events, ${fmt(staged.bytes / 2 ** 20)} MiB of event JSON`,
        '| CLI | s | events/s | peak RSS MiB | peak heapUsed / external MiB | CPU s per 1k events | load after |',
        '|---|---|---|---|---|---|---|',
        ...runs.map(
          (r) =>
            `| ${r.cli} | ${r.seconds.toFixed(1)} | ${fmt(staged.count / r.seconds)} | ${fmt(r.peakRssMb)} | ${r.memory ? `${fmt(r.memory.peaks.heapUsed / 2 ** 20)} / ${fmt(r.memory.peaks.external / 2 ** 20)}` : '-'} | ${((r.cpuSeconds / staged.count) * 1000).toFixed(2)} | ${r.load.join(' ')} |`,
        ),
      ].join('\n') + '\n',
    );
  } finally {
    await cleanUp(kafka, part);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
);
