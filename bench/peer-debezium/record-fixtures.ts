/**
 * Records Debezium's change events for the envelope workload (test/support/envelope-workload.ts)
 * into test/fixtures/debezium/envelope.json, for test/integration/envelope-compat.int.spec.ts.
 *
 *   npm run bench:peer-debezium:record
 *
 * Debezium runs with its defaults except: pgoutput, its own slot/publication/topic prefix,
 * provide.transaction.metadata=true (Tandem always writes the transaction block) and
 * skipped.operations=none (Debezium skips TRUNCATE by default; recorded so it can be compared).
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { dropSlot, sql, testKafka } from '../../test/support/services';
import {
  createEnvelopeTables,
  dropEnvelopeTables,
  recordEnvelopeWorkload,
  withPlaceholders,
  type EnvelopeNames,
} from '../../test/support/envelope-recording';
import { log, ROOT } from '../capture/support';
import { DebeziumChild, installDebezium } from './debezium-child';
import { DEBEZIUM_VERSION } from './versions';
const FIXTURE = join(ROOT, 'test', 'fixtures', 'debezium', 'envelope.json');

async function main(): Promise<void> {
  installDebezium();
  const base = `envdbz_${Date.now().toString(36)}`;
  const names: EnvelopeNames = { prefix: base, types: `${base}_types`, full: `${base}_full` };
  const kafka = testKafka();
  await createEnvelopeTables(names);
  // Debezium creates no topics; the harness creates them on first use, but the reader needs them now.
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: ['types', 'full']
      .map((t) => ({ topic: `${base}.public.${base}_${t}`, numPartitions: 3 }))
      .concat([{ topic: `${base}.transaction`, numPartitions: 3 }]),
  });
  await admin.disconnect();
  const debezium = new DebeziumChild({
    slot: base,
    publication: `${base}_pub`,
    prefix: names.prefix,
    tables: [`public.${names.types}`, `public.${names.full}`],
    snapshotMode: 'initial',
    extra: { 'skipped.operations': 'none' },
  });
  try {
    await debezium.waitStreaming();
    log('Debezium streams; running the workload');
    const recording = await recordEnvelopeWorkload(
      kafka,
      names,
      `Debezium ${DEBEZIUM_VERSION} (embedded engine, pgoutput), JsonConverter schemas.enable=false`,
    );
    mkdirSync(join(FIXTURE, '..'), { recursive: true });
    writeFileSync(FIXTURE, JSON.stringify(withPlaceholders(recording, names), null, 2) + '\n');
    log(`wrote ${FIXTURE}`);
  } finally {
    await debezium.stop();
    debezium.removeOffsets();
    await dropSlot(base).catch(() => undefined);
    await sql(`DROP PUBLICATION IF EXISTS ${base}_pub`).catch(() => undefined);
    await dropEnvelopeTables(names);
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${base}.`));
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
);
