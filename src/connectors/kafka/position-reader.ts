import { randomUUID } from 'crypto';
import type { Kafka } from 'kafkajs';
import { retryTransient } from './retry';

/**
 * Reads back the position record that TransactionalProducer committed last for `groupId`,
 * or null when there is none. Only committed transactions are visible (read_committed).
 */
export async function readPositionRecord(kafka: Kafka, topic: string, groupId: string, timeoutMs = 30_000): Promise<string | null> {
  const admin = kafka.admin();
  await admin.connect();
  let target: bigint;
  try {
    const [offsets] = await retryTransient(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    const committed = offsets?.partitions.find((p) => p.partition === 0)?.offset ?? '-1';
    if (BigInt(committed) <= 0n) return null;
    target = BigInt(committed) - 1n;
  } finally {
    await admin.disconnect();
  }

  const readerGroup = `tandem-position-reader-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId: readerGroup, readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<string | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no record at ${topic}@${target} within ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (partition === 0 && BigInt(message.offset) === target) {
            clearTimeout(timer);
            resolve(message.value ? message.value.toString() : null);
          }
        },
      });
      consumer.seek({ topic, partition: 0, offset: target.toString() });
    });
  } finally {
    await consumer.disconnect();
    const admin2 = kafka.admin();
    await admin2.connect();
    await admin2.deleteGroups([readerGroup]).catch(() => undefined);
    await admin2.disconnect();
  }
}
