import { randomUUID } from 'crypto';
import type { Kafka } from 'kafkajs';
import { retryTransient } from './retry';

export interface RecordPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

export const positionKey = (p: RecordPosition) => `${p.topic}#${p.partition}#${p.offset}`;

/**
 * Reads the values of the records at these positions (read_committed) in a throw-away consumer
 * group: each partition from its lowest wanted offset up to its highest. A position the topic no
 * longer holds (below its low watermark) is absent from the result.
 */
export async function readRecordsAt(
  kafka: Kafka,
  positions: RecordPosition[],
  timeoutMs = 60_000,
): Promise<Map<string, string | null>> {
  const found = new Map<string, string | null>();
  const wanted = new Map<string, { topic: string; partition: number; offsets: Set<bigint>; low: bigint; high: bigint }>();
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of new Set(positions.map((p) => p.topic))) {
      const watermarks = await retryTransient(() => admin.fetchTopicOffsets(topic));
      for (const p of positions.filter((q) => q.topic === topic)) {
        const mark = watermarks.find((w) => w.partition === p.partition);
        if (!mark || p.offset < BigInt(mark.low) || p.offset >= BigInt(mark.high)) continue;
        const id = `${topic}#${p.partition}`;
        const entry = wanted.get(id) ?? { topic, partition: p.partition, offsets: new Set(), low: p.offset, high: p.offset };
        entry.offsets.add(p.offset);
        entry.low = entry.low < p.offset ? entry.low : p.offset;
        entry.high = entry.high > p.offset ? entry.high : p.offset;
        wanted.set(id, entry);
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (wanted.size === 0) return found;

  const groupId = `tandem-record-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    for (const topic of new Set([...wanted.values()].map((w) => w.topic)))
      await consumer.subscribe({ topic, fromBeginning: true });
    const open = new Set(wanted.keys());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`could not re-read ${[...open].join(', ')} from Kafka within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const id = `${topic}#${partition}`;
          const entry = wanted.get(id);
          const offset = BigInt(message.offset);
          if (!entry || !open.has(id)) return;
          if (entry.offsets.has(offset))
            found.set(positionKey({ topic, partition, offset }), message.value ? message.value.toString('utf8') : null);
          if (offset >= entry.high) open.delete(id);
          if (open.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
      for (const entry of wanted.values())
        consumer.seek({ topic: entry.topic, partition: entry.partition, offset: entry.low.toString() });
    });
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch(() => undefined);
    await cleanup.disconnect();
  }
  return found;
}
