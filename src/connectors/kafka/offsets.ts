import type { Admin, Kafka } from 'kafkajs';
import type { PartitionEnd } from '../../contracts/positions';

/** Each partition's [low, end) offsets of the given topics, sorted by topic then partition. */
export async function topicEnds(admin: Admin, topics: string[]): Promise<PartitionEnd[]> {
  const result: PartitionEnd[] = [];
  for (const topic of topics) {
    for (const o of await admin.fetchTopicOffsets(topic))
      result.push({ topic, partition: o.partition, low: BigInt(o.low), end: BigInt(o.high) });
  }
  return result.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/** topicEnds through an admin connection of its own. */
export async function endOffsets(kafka: Kafka, topics: string[]): Promise<PartitionEnd[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await topicEnds(admin, topics);
  } finally {
    await admin.disconnect();
  }
}

/** The members of a consumer group (work that needs the live projector stopped refuses a group with any). */
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
