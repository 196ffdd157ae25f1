import { ensureTopics } from '../../src/connectors/kafka/topic-admin';
import { ConfigError } from '../../src/shared/errors';
import { testKafka, uniqueName } from '../support/services';

// Topics are created with kafka.replicationFactor; one the cluster cannot honour is refused by name.
describe('ensureTopics replication factor', () => {
  const kafka = testKafka();

  async function describe(topic: string) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const brokers = (await admin.describeCluster()).brokers.length;
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      return { brokers, replicas: topics[0].partitions.map((p) => p.replicas.length) };
    } finally {
      await admin.disconnect();
    }
  }

  it('creates every partition with as many replicas as the cluster has brokers, when asked for that many', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const brokers = (await admin.describeCluster()).brokers.length;
    await admin.disconnect();
    const topic = uniqueName('rf');
    await ensureTopics(kafka, [{ topic, partitions: 2 }], brokers);
    expect(await describe(topic)).toEqual({ brokers, replicas: [brokers, brokers] });
  });

  it('refuses a replication factor above the number of brokers, naming the setting, and creates nothing', async () => {
    const topic = uniqueName('rf_too_high');
    const admin = kafka.admin();
    await admin.connect();
    try {
      const brokers = (await admin.describeCluster()).brokers.length;
      const error = await ensureTopics(kafka, [{ topic, partitions: 1 }], brokers + 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(`kafka.replicationFactor is ${brokers + 1}`);
      expect((error as Error).message).toContain(topic);
      expect(await admin.listTopics()).not.toContain(topic);
    } finally {
      await admin.disconnect();
    }
  });
});
