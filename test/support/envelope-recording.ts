/**
 * Runs the envelope workload (envelope-workload.ts) against whatever capture is streaming the two
 * tables, and records, step by step, the records it wrote to Kafka in a deterministic order. Used
 * by the Debezium recorder (bench/peer-debezium/record-fixtures.ts) and by the compatibility test.
 */
import type { Kafka } from 'kafkajs';
import { readTopics, type ReadRecord } from './kafka-reader';
import { sql, withSource } from './services';
import { ENVELOPE_SETUP, ENVELOPE_STEPS, withTables } from './envelope-workload';

export interface EnvelopeNames {
  prefix: string;
  types: string;
  full: string;
}

/** One record as recorded: which topic (by role), its key and its value (null for a tombstone). */
export interface RecordedRecord {
  topic: 'types' | 'full' | 'transaction';
  key: unknown;
  value: any;
}

export interface RecordedStep {
  name: string;
  records: RecordedRecord[];
}

export interface EnvelopeRecording {
  /** What produced it, e.g. "Debezium 3.0.8.Final (embedded engine), JsonConverter schemas.enable=false". */
  producer: string;
  snapshot: RecordedStep;
  steps: RecordedStep[];
}

export async function createEnvelopeTables(names: EnvelopeNames): Promise<void> {
  for (const statement of ENVELOPE_SETUP) await sql(withTables(statement, names));
}

export async function dropEnvelopeTables(names: EnvelopeNames): Promise<void> {
  await sql(`DROP TABLE IF EXISTS public.${names.types}, public.${names.full}`);
}

function topicsOf(names: EnvelopeNames) {
  return {
    types: `${names.prefix}.public.${names.types}`,
    full: `${names.prefix}.public.${names.full}`,
    transaction: `${names.prefix}.transaction`,
  };
}

/**
 * Reads until the table topics hold `tableRecords` records, and returns those not seen before. A
 * TRUNCATE event written to several partitions is kept once.
 */
async function readNew(
  kafka: Kafka,
  names: EnvelopeNames,
  seen: Set<string>,
  tableRecords: number,
): Promise<RecordedRecord[]> {
  const topics = topicsOf(names);
  const isTable = (r: ReadRecord) => r.topic === topics.types || r.topic === topics.full;
  const distinctTable = (all: ReadRecord[]) => new Set(all.filter(isTable).map(identity)).size;
  const records = await readTopics(
    kafka,
    [topics.types, topics.full, topics.transaction],
    (all) => distinctTable(all) >= tableRecords,
    {
      settleMs: 2000,
      raw: true,
    },
  );
  const fresh: ReadRecord[] = [];
  for (const record of records) {
    const id = `${record.topic}/${record.partition}/${record.offset}`;
    if (seen.has(id)) continue;
    seen.add(id);
    fresh.push(record);
  }
  const role = (topic: string): RecordedRecord['topic'] =>
    topic === topics.types ? 'types' : topic === topics.full ? 'full' : 'transaction';
  return orderStep(
    fresh.map((r) => ({ topic: role(r.topic), key: parseExact(r.key), value: parseExact(r.value) })),
  );
}

/**
 * JSON.parse, except that integers too large for a double are kept exactly, as {"$number": "<digits>"}
 * (Debezium writes bigint as a JSON number; JSON.parse would round 9223372036854775807).
 */
export function parseExact(text: string | null): any {
  if (text === null) return null;
  return JSON.parse(
    text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, (match, lead: string, digits: string) =>
      Number.isSafeInteger(Number(digits)) ? match : `${lead}{"$number":"${digits}"}`,
    ),
  );
}

/** A record's identity for counting: a TRUNCATE written to every partition counts once. */
function identity(record: ReadRecord): string {
  const value = record.value === null ? null : JSON.parse(record.value as string);
  if (value?.op === 't') return `${record.topic}/truncate/${value.source?.lsn}`;
  return `${record.topic}/${record.partition}/${record.offset}`;
}

/**
 * Orders one step's records: transaction BEGIN, the change events in their transaction order (each
 * delete followed by its tombstone), transaction END. Snapshot events (no transaction) by key.
 */
export function orderStep(records: RecordedRecord[]): RecordedRecord[] {
  const markers = records.filter((r) => r.topic === 'transaction');
  const table = records.filter((r) => r.topic !== 'transaction');
  const events = table.filter((r) => r.value !== null);
  const tombstones = table.filter((r) => r.value === null);
  const uniqueEvents: RecordedRecord[] = [];
  for (const event of events) {
    const duplicateTruncate =
      event.value.op === 't' &&
      uniqueEvents.some(
        (e) => e.topic === event.topic && JSON.stringify(e.value) === JSON.stringify(event.value),
      );
    if (!duplicateTruncate) uniqueEvents.push(event);
  }
  const order = (r: RecordedRecord) => r.value.transaction?.total_order ?? 0;
  uniqueEvents.sort(
    (a, b) => order(a) - order(b) || JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)),
  );
  const ordered: RecordedRecord[] = [...markers.filter((m) => m.value?.status === 'BEGIN')];
  for (const event of uniqueEvents) {
    ordered.push(event);
    if (event.value.op !== 'd') continue;
    const index = tombstones.findIndex(
      (t) => t.topic === event.topic && JSON.stringify(t.key) === JSON.stringify(event.key),
    );
    if (index >= 0) ordered.push(...tombstones.splice(index, 1));
  }
  ordered.push(...tombstones, ...markers.filter((m) => m.value?.status !== 'BEGIN'));
  return ordered;
}

/**
 * Runs the steps one at a time (each waits for its records) and returns what the capture wrote.
 * The capture must already stream, with the snapshot of the `full` table (2 rows) done or under way.
 */
export async function recordEnvelopeWorkload(
  kafka: Kafka,
  names: EnvelopeNames,
  producer: string,
): Promise<EnvelopeRecording> {
  const seen = new Set<string>();
  let expected = 2;
  const snapshot: RecordedStep = { name: 'snapshot', records: await readNew(kafka, names, seen, expected) };
  const steps: RecordedStep[] = [];
  for (const step of ENVELOPE_STEPS) {
    await withSource(async (client) => {
      for (const statement of step.sql) await client.query(withTables(statement, names));
    });
    expected += step.records;
    steps.push({ name: step.name, records: await readNew(kafka, names, seen, expected) });
  }
  return { producer, snapshot, steps };
}

/** Replaces this run's names by placeholders, so recordings of different runs compare. */
export function withPlaceholders<T>(value: T, names: EnvelopeNames): T {
  const text = JSON.stringify(value)
    .split(names.types)
    .join('{types}')
    .split(names.full)
    .join('{full}')
    .split(names.prefix)
    .join('{prefix}');
  return JSON.parse(text) as T;
}
