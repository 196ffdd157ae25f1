import type { Kafka } from 'kafkajs';
import { partitionId, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { coversEnd } from '../../contracts/positions';

/**
 * Every partition of every source topic is applied to its end, whichever member applied it (by the
 * checkpoints in the target): partitions this member has not read yet count too, so deferred
 * indexes and a mirror's foreign keys are not built while another table is still loading.
 */
export async function everyPartitionCaughtUp(
  kafka: Kafka,
  topics: string[],
  checkpoints: Map<string, Checkpoint>,
): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of topics) {
      for (const offsets of await admin.fetchTopicOffsets(topic)) {
        const [low, high] = [BigInt(offsets.low), BigInt(offsets.high)];
        if (high === low) continue;
        const applied = checkpoints.get(partitionId(topic, offsets.partition))?.offset ?? low - 1n;
        if (!coversEnd(applied, high)) return false;
      }
    }
    return true;
  } finally {
    await admin.disconnect();
  }
}
