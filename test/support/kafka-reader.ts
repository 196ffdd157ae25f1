import { randomUUID } from 'crypto';
import type { Kafka } from 'kafkajs';
import { awaiting } from './awaiting';

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: any;
  value: any;
}

/**
 * Reads topics from the beginning as a read_committed consumer until `done(records)` holds, then on
 * to the topics' end offsets as they are at that moment, so that duplicates committed by then show up
 * too (and for `settleMs` more, when given). With `raw`, keys and values are kept as the record's text
 * instead of parsed JSON.
 */
export function readTopics(
  kafka: Kafka,
  topics: string[],
  done: (records: ReadRecord[]) => boolean,
  options: { timeoutMs?: number; settleMs?: number; raw?: boolean } = {},
): Promise<ReadRecord[]> {
  return awaiting(`the expected records in ${topics.join(', ')}`, readUntil(kafka, topics, done, options));
}

async function readUntil(
  kafka: Kafka,
  topics: string[],
  done: (records: ReadRecord[]) => boolean,
  {
    timeoutMs = 120_000,
    settleMs = 0,
    raw = false,
  }: { timeoutMs?: number; settleMs?: number; raw?: boolean },
): Promise<ReadRecord[]> {
  await waitForTopics(kafka, topics, timeoutMs);
  const groupId = `tandem-test-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, readUncommitted: false });
  const records: ReadRecord[] = [];
  /** Per partition, how far the consumer has read, transaction markers included (never handed over as records). */
  const readTo = new Map<string, bigint>();
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const key = `${payload.topic}#${payload.partition}`;
    const offset = BigInt(payload.lastOffset);
    if (offset > (readTo.get(key) ?? -1n)) readTo.set(key, offset);
  });
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          records.push({
            topic: batch.topic,
            partition: batch.partition,
            offset: BigInt(message.offset),
            key: message.key ? (raw ? message.key.toString() : JSON.parse(message.key.toString())) : null,
            value: message.value
              ? raw
                ? message.value.toString()
                : JSON.parse(message.value.toString())
              : null,
          });
        }
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (!done(records)) {
      if (Date.now() > deadline)
        throw new Error(
          `read ${records.length} records from ${topics.join(', ')} without reaching the expected state`,
        );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await readOnToEnds(kafka, topics, readTo, deadline);
    if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
    return records;
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** Events (not tombstones) of the given topics, in each partition's order. */
export function changeEvents(records: ReadRecord[]): ReadRecord[] {
  return records.filter((record) => record.value !== null && record.value.op !== undefined);
}

async function readOnToEnds(
  kafka: Kafka,
  topics: string[],
  readTo: Map<string, bigint>,
  deadline: number,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Array<{ key: string; last: bigint }>;
  try {
    ends = (
      await Promise.all(
        topics.map(async (topic) => ({ topic, offsets: await admin.fetchTopicOffsets(topic) })),
      )
    ).flatMap(({ topic, offsets }) =>
      offsets
        .filter((o) => BigInt(o.high) > BigInt(o.low))
        .map((o) => ({ key: `${topic}#${o.partition}`, last: BigInt(o.high) - 1n })),
    );
  } finally {
    await admin.disconnect();
  }
  for (;;) {
    const behind = ends.filter(({ key, last }) => (readTo.get(key) ?? -1n) < last);
    if (behind.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${behind.map((b) => b.key).join(', ')}: not read to the end`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitForTopics(kafka: Kafka, topics: string[], timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const existing = new Set(await admin.listTopics());
      if (topics.every((topic) => existing.has(topic))) return;
      if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} were never created`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** The topic's end offsets as "partition:high,…": equal before and after when nothing was produced to it. */
export async function topicEnds(kafka: Kafka, topic: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((o) => `${o.partition}:${o.high}`).join(',');
  } finally {
    await admin.disconnect();
  }
}
