import { ThreadedTransactionalProducer } from '../../src/connectors/kafka/producer-thread';
import { ensureTopics } from '../../src/connectors/kafka/topic-admin';
import { createLogger } from '../../src/shared/logger';
import { readTopics } from '../support/kafka-reader';
import { env, testKafka, uniqueName } from '../support/services';

// Capture's producer runs kafkajs on a worker thread; what it commits must be exactly what was asked.
describe('ThreadedTransactionalProducer', () => {
  const kafka = testKafka();
  const logger = createLogger('producer-thread-test', 'silent');

  it('commits the records and the position record in one transaction, in order, and reports progress', async () => {
    const topic = uniqueName('producer_thread');
    const positionTopic = `${topic}.position`;
    await ensureTopics(
      kafka,
      [
        { topic, partitions: 3 },
        { topic: positionTopic, partitions: 1 },
      ],
      1,
    );
    const producer = new ThreadedTransactionalProducer(
      { connection: { brokers: env.brokers() }, clientId: 'tandem-test', transactionalId: `${topic}.tx` },
      logger,
    );
    await producer.connect();
    let progressed = 0;
    try {
      const records = Array.from({ length: 2_000 }, (_, i) => ({
        topic,
        key: JSON.stringify({ id: i % 50 }),
        value: JSON.stringify({ n: i, padding: 'x'.repeat(1_500) }), // 3 MB: more than one produce request
      }));
      await producer.commit(
        records,
        { topic: positionTopic, key: 'capture', value: '{"at":2000}', groupId: `${topic}.group` },
        (sent) => (progressed += sent),
      );
      await producer.commit([{ topic, key: JSON.stringify({ id: 0 }), value: JSON.stringify({ n: 2_000 }) }]);
    } finally {
      await producer.disconnect();
    }
    expect(progressed).toBe(2_000);

    const changes = await readTopics(kafka, [topic], (all) => all.length >= 2_001);
    expect(changes).toHaveLength(2_001);
    // Per key, in the order given (one key lives on one partition).
    const byKey = new Map<number, number[]>();
    for (const record of changes)
      byKey.set(record.key.id, [...(byKey.get(record.key.id) ?? []), record.value.n]);
    for (const ns of byKey.values()) expect(ns).toEqual([...ns].sort((a, b) => a - b));
    expect(byKey.get(0)?.at(-1)).toBe(2_000);
    const positions = await readTopics(kafka, [positionTopic], (all) => all.length >= 1, { raw: true });
    expect(positions.map((record) => record.value)).toEqual(['{"at":2000}']);

    const admin = kafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: `${topic}.group`, topics: [positionTopic] });
      // Just after the committed position record (a transaction rerun after a coordinator error leaves
      // the aborted attempt's record and marker before it).
      expect(offsets.partitions[0].offset).toBe(String(positions[0].offset + 1n));
    } finally {
      await admin.disconnect();
    }
  });

  it('refuses work once disconnected instead of hanging', async () => {
    const producer = new ThreadedTransactionalProducer(
      {
        connection: { brokers: env.brokers() },
        clientId: 'tandem-test',
        transactionalId: uniqueName('producer_thread_closed'),
      },
      logger,
    );
    await producer.connect();
    await producer.disconnect();
    await expect(producer.commit([{ topic: 'never', key: null, value: '{}' }])).rejects.toThrow(
      /producer thread exited/,
    );
  });
});
