import type { Kafka } from 'kafkajs';
import { EndpointError } from '../../shared/errors';

export interface TopicSpec {
  topic: string;
  partitions: number;
  config?: Record<string, string>;
}

/** Change topics keep their whole history: the log is the source of truth that projections replay. */
export const CHANGE_TOPIC_CONFIG = { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'max.message.bytes': '16777216' };
export const COMPACTED_TOPIC_CONFIG = { 'cleanup.policy': 'compact', 'max.message.bytes': '16777216' };

/** Creates the topics that do not exist yet; existing topics are left as they are. */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[], replicationFactor: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    if (missing.length === 0) return;
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((spec) => ({
        topic: spec.topic,
        numPartitions: spec.partitions,
        replicationFactor,
        configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Asks the cluster for its brokers: proves Kafka answers (a failure names the endpoint). */
export async function probeKafka(kafka: Kafka, brokers: readonly string[]): Promise<{ brokers: number }> {
  const admin = kafka.admin({ retry: { retries: 2 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { brokers: cluster.brokers.length };
  } catch (error) {
    throw new EndpointError('kafka', brokers.join(','), error);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
