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
 * topic Tandem creates goes through here); existing topics are left as they are.
 */
export async function ensureTopics(kafka: Kafka, specs: TopicSpec[], replicationFactor: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((spec) => !existing.has(spec.topic));
    const { brokers } = await admin.describeCluster();
    // Another process (capture beside a projector or applier) may have created them a moment ago:
    // listed, but their leaders not elected yet, and kafkajs does not retry "does not host this topic-partition".
    await waitUntilLed(kafka, specs.filter((spec) => existing.has(spec.topic)).map((spec) => spec.topic), brokers.length);
    if (missing.length === 0) return;
    if (brokers.length < replicationFactor)
      throw new ConfigError(
        `kafka.replicationFactor is ${replicationFactor} but the Kafka cluster has ${brokers.length} broker(s): ` +
          `cannot create ${missing.map((spec) => spec.topic).join(', ')} (set kafka.replicationFactor to at most ${brokers.length})`,
      );
    await admin.createTopics({
      // Not kafkajs's own wait: it retries only "leader not available", and gives up (the create
      // fails) when the broker it asks does not know the topics yet, which one busy broker answers
      // too ("does not host this topic-partition": failback capture died so in CI). waitUntilLed below.
      waitForLeaders: false,
      topics: missing.map((spec) => ({
        topic: spec.topic,
        numPartitions: spec.partitions,
        replicationFactor,
        configEntries: Object.entries(spec.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    // created here (or by another process at the same moment, which createTopics does not report)
    await waitUntilLed(kafka, missing.map((spec) => spec.topic), 3 * brokers.length);
  } finally {
    await admin.disconnect();
  }
}

/**
 * A topic reaches the brokers' metadata a moment after the controller created it. A fresh admin
 * asks one configured broker picked at random: once `confirmations` answers in a row show every
 * partition led, every broker is very likely to know the topics (three per broker for new topics).
 */
async function waitUntilLed(kafka: Kafka, topics: string[], confirmations: number): Promise<void> {
  if (topics.length === 0) return;
  const deadline = Date.now() + 30_000;
  let known = 0;
  while (known < confirmations && Date.now() < deadline) {
    const probe = kafka.admin({ retry: { retries: 0 } });
    try {
      await probe.connect();
      const metadata = await probe.fetchTopicMetadata({ topics });
      const led = metadata.topics.every((topic) => topic.partitions.every((p) => p.leader >= 0));
      known = led ? known + 1 : 0;
      if (!led) await new Promise((r) => setTimeout(r, 100));
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
