import type { Kafka } from 'kafkajs';
import { ConfigError, EndpointError } from '../../shared/errors';

export interface TopicSpec {
  topic: string;
  partitions: number;
  config?: Record<string, string>;
}

/** Change topics keep their whole history: the log is the source of truth that projections replay. */
export const CHANGE_TOPIC_CONFIG = { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'max.message.bytes': '16777216' };
export const COMPACTED_TOPIC_CONFIG = { 'cleanup.policy': 'compact', 'max.message.bytes': '16777216' };

/**
 * Creates the topics that do not exist yet, each with the configured replication factor (every
 * topic Tandem creates goes through here); existing topics are left as they are. Returns once every
 * partition of every topic has a leader: a topic another process created a moment ago (failback's
 * capture and applier start together) can exist without one yet.
 */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[], replicationFactor: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let brokerCount: number;
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    const { brokers } = await admin.describeCluster();
    brokerCount = brokers.length;
    if (missing.length > 0 && brokers.length < replicationFactor)
      throw new ConfigError(
        `kafka.replicationFactor is ${replicationFactor} but the Kafka cluster has ${brokers.length} broker(s): ` +
          `cannot create ${missing.map((spec) => spec.topic).join(', ')} (set kafka.replicationFactor to at most ${brokers.length})`,
      );
    if (missing.length > 0)
      await admin.createTopics({
        // kafkajs's own wait gives up when the broker it asks does not know the topics yet (a cluster)
        waitForLeaders: brokers.length < 2,
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
  await waitUntilEveryBrokerKnows(kafka, specs.map((spec) => spec.topic), brokerCount);
}

/**
 * A new topic reaches the brokers' metadata a moment after the controller created it, and kafkajs
 * does not retry a metadata answer "does not host this topic-partition". A fresh admin asks one
 * configured broker picked at random: once several in a row (three per broker of a cluster, one on
 * a single broker) know the topics and their leaders, every broker is very likely to.
 */
async function waitUntilEveryBrokerKnows(kafka: Kafka, topics: string[], brokers: number): Promise<void> {
  if (topics.length === 0) return;
  const wanted = brokers < 2 ? 1 : 3 * brokers;
  const deadline = Date.now() + 30_000;
  let known = 0;
  while (known < wanted && Date.now() < deadline) {
    const probe = kafka.admin({ retry: { retries: 0 } });
    try {
      await probe.connect();
      const metadata = await probe.fetchTopicMetadata({ topics });
      const led = metadata.topics.every((topic) => topic.partitions.every((p) => p.leader >= 0));
      known = led ? known + 1 : 0;
      if (!led) await new Promise((r) => setTimeout(r, 200));
    } catch {
      known = 0;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await probe.disconnect().catch(() => undefined);
    }
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
