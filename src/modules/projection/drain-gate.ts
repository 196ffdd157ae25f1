import type { Kafka } from 'kafkajs';
import type { Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { partitionId } from '../../connectors/postgres-target/checkpoint-store';

/** A partition's offsets as Kafka reports them for read_committed readers: [low, end). */
export interface PartitionEnd {
  topic: string;
  partition: number;
  low: bigint;
  end: bigint;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  end: bigint;
  /** The projection's last applied offset, null when it applied nothing from this partition. */
  applied: bigint | null;
}

/**
 * Whether a projection applied every record below the end offsets. The end offset of a partition
 * written by transactional producers follows a commit marker, so the last data record can be
 * end − 2: a checkpoint at end − 2 or later covers every record (markers are never delivered).
 */
export function lagging(ends: PartitionEnd[], checkpoints: Map<string, Checkpoint>): PartitionLag[] {
  const behind: PartitionLag[] = [];
  for (const { topic, partition, low, end } of ends) {
    if (end <= low) continue; // nothing (left) in the partition
    const applied = checkpoints.get(partitionId(topic, partition))?.offset ?? null;
    if (applied !== null && applied >= end - 2n) continue;
    behind.push({ topic, partition, end, applied });
  }
  return behind;
}

export function describeLag(projection: string, behind: PartitionLag[]): string {
  return behind
    .map((p) => `${projection}: ${p.topic}#${p.partition} applied ${p.applied === null ? 'nothing' : `up to offset ${p.applied}`}, end offset ${p.end}`)
    .join('; ');
}

export async function endOffsets(kafka: Kafka, topics: string[]): Promise<PartitionEnd[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result: PartitionEnd[] = [];
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      for (const o of offsets) result.push({ topic, partition: o.partition, low: BigInt(o.low), end: BigInt(o.high) });
    }
    return result.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}

/** Refuses work that needs the live projector stopped: its consumer group must have no member. */
export async function activeMembers(kafka: Kafka, group: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return groups[0]?.members.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}
