import { randomUUID } from 'crypto';
import type { Admin, Consumer, ConsumerConfig, Kafka, KafkaMessage } from 'kafkajs';
import { retryTransient } from './retry';

/** The records of one partition from offset `from` through offset `through` (both included). */
export interface PartitionRange {
  topic: string;
  partition: number;
  from: bigint;
  through: bigint;
}

/** Per topic, each partition's low and high watermark. */
export type Watermarks = Map<string, Array<{ partition: number; low: bigint; high: bigint }>>;

/** Runs `work` with a connected admin, disconnected afterwards. */
export async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs `work` with a connected consumer of a throw-away group (`<groupPrefix><uuid>`); afterwards the
 * consumer disconnects and the group is deleted, so that one-off reads leave no group behind.
 */
export async function withThrowawayConsumer<T>(
  kafka: Kafka,
  groupPrefix: string,
  config: Omit<ConsumerConfig, 'groupId'>,
  work: (consumer: Consumer) => Promise<T>,
): Promise<T> {
  const groupId = `${groupPrefix}${randomUUID()}`;
  const consumer = kafka.consumer({ ...config, groupId });
  await retryTransient(() => consumer.connect());
  try {
    return await work(consumer);
  } finally {
    await consumer.disconnect();
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId]).catch(() => undefined));
  }
}

export async function readWatermarks(kafka: Kafka, topics: Iterable<string>): Promise<Watermarks> {
  const marks: Watermarks = new Map();
  await withAdmin(kafka, async (admin) => {
    for (const topic of new Set(topics)) {
      const offsets = await retryTransient(() => admin.fetchTopicOffsets(topic));
      marks.set(topic, offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) })));
    }
  });
  return marks;
}

/**
 * Reads these ranges (read_committed, a throw-away consumer group) and hands every record inside one
 * to `onRecord`, each partition in log order; the other partitions of their topics (`marks`) are moved
 * to their ends and not read. Resolves when every range is read through, throws after `timeoutMs`.
 */
export async function readRanges(
  kafka: Kafka,
  ranges: PartitionRange[],
  marks: Watermarks,
  options: { groupPrefix: string; maxWaitTimeInMs: number; timeoutMs: number; failure: string },
  onRecord: (range: PartitionRange, message: KafkaMessage) => void,
): Promise<void> {
  const byPartition = new Map(ranges.map((r) => [`${r.topic}#${r.partition}`, r]));
  if (byPartition.size === 0) return;
  const topics = new Set(ranges.map((r) => r.topic));
  const idle = [...topics].flatMap((topic) =>
    (marks.get(topic) ?? []).filter((m) => !byPartition.has(`${topic}#${m.partition}`)).map((m) => ({ topic, partition: m.partition, offset: m.high.toString() })),
  );
  const settings = { readUncommitted: false, maxWaitTimeInMs: options.maxWaitTimeInMs };
  await withThrowawayConsumer(kafka, options.groupPrefix, settings, async (consumer) => {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    const open = new Set(byPartition.keys());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${options.failure} ${[...open].join(', ')} from Kafka within ${options.timeoutMs} ms`)), options.timeoutMs);
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message }) => {
          const id = `${topic}#${partition}`;
          const range = byPartition.get(id);
          const offset = BigInt(message.offset);
          if (!range || !open.has(id) || offset < range.from) return;
          if (offset <= range.through) onRecord(range, message);
          if (offset >= range.through) open.delete(id);
          if (open.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
      for (const end of idle) consumer.seek(end);
      for (const range of byPartition.values()) consumer.seek({ topic: range.topic, partition: range.partition, offset: range.from.toString() });
    });
  });
}
