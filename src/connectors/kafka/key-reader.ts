import { randomUUID } from 'crypto';
import type { Kafka } from 'kafkajs';
import { retryTransient } from './retry';

/** The records of one partition after `after` up to and including `through` (both offsets). */
export interface OffsetRange {
  topic: string;
  partition: number;
  after: bigint;
  through: bigint;
}

/**
 * The record keys of these ranges (read_committed, a throw-away consumer group), per topic; null when
 * a range is no longer whole in the topic (below its low watermark), the ranges hold more than
 * `limit` records, or a record has no key (a truncate: it concerns every row).
 */
export async function readKeysBetween(
  kafka: Kafka,
  ranges: OffsetRange[],
  limit: number,
  timeoutMs = 30_000,
): Promise<Map<string, Set<string>> | null> {
  const wanted = ranges.filter((r) => r.through > r.after);
  const keys = new Map<string, Set<string>>();
  if (wanted.length === 0) return keys;
  if (wanted.reduce((sum, r) => sum + Number(r.through - r.after), 0) > limit) return null;
  // the other partitions of these topics are moved to their ends (not read)
  const idle: Array<{ topic: string; partition: number; offset: string }> = [];
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of new Set(wanted.map((r) => r.topic))) {
      const marks = await retryTransient(() => admin.fetchTopicOffsets(topic));
      for (const mark of marks)
        if (!wanted.some((r) => r.topic === topic && r.partition === mark.partition)) idle.push({ topic, partition: mark.partition, offset: mark.high });
      for (const range of wanted.filter((r) => r.topic === topic)) {
        const mark = marks.find((m) => m.partition === range.partition);
        if (!mark || range.after + 1n < BigInt(mark.low) || range.through >= BigInt(mark.high)) return null;
      }
    }
  } finally {
    await admin.disconnect();
  }
  const groupId = `tandem-key-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    for (const topic of new Set(wanted.map((r) => r.topic))) await consumer.subscribe({ topic, fromBeginning: true });
    const byPartition = new Map(wanted.map((r) => [`${r.topic}#${r.partition}`, r]));
    const open = new Set(byPartition.keys());
    let keyless = false;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`could not read ${[...open].join(', ')} from Kafka within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const id = `${topic}#${partition}`;
          const range = byPartition.get(id);
          const offset = BigInt(message.offset);
          if (!range || !open.has(id) || offset <= range.after) return;
          if (offset <= range.through && !message.key) keyless = true;
          if (offset <= range.through && message.key) {
            const set = keys.get(topic) ?? new Set<string>();
            set.add(message.key.toString('utf8'));
            keys.set(topic, set);
          }
          if (offset >= range.through) open.delete(id);
          if (open.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
      for (const end of idle) consumer.seek(end);
      for (const range of wanted) consumer.seek({ topic: range.topic, partition: range.partition, offset: (range.after + 1n).toString() });
    });
    if (keyless) return null;
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch(() => undefined);
    await cleanup.disconnect();
  }
  return keys;
}
