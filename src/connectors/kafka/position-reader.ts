import type { Kafka } from 'kafkajs';
import { retryTransient } from './retry';
import { withAdmin, withThrowawayConsumer } from './range-reader';

/**
 * Reads back the position record that TransactionalProducer committed last for `groupId`,
 * or null when there is none. Only committed transactions are visible (read_committed).
 */
export async function readPositionRecord(kafka: Kafka, topic: string, groupId: string, timeoutMs = 30_000): Promise<string | null> {
  const committed = await withAdmin(kafka, async (admin) => {
    const [offsets] = await retryTransient(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    return BigInt(offsets?.partitions.find((p) => p.partition === 0)?.offset ?? '-1');
  });
  if (committed <= 0n) return null;
  const target = committed - 1n;
  const settings = { readUncommitted: false, maxWaitTimeInMs: 200 };
  return withThrowawayConsumer(kafka, 'tandem-position-reader-', settings, async (consumer) => {
    await consumer.subscribe({ topic, fromBeginning: true });
    return new Promise<string | null>((resolve, reject) => {
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
  });
}
