import { LogConsumer } from '../../src/connectors/kafka/log-consumer';
import { CHANGE_TOPIC_CONFIG, ensureTopics } from '../../src/connectors/kafka/topic-admin';
import { eventually, testKafka, uniqueName } from '../support/services';

/**
 * The projector's reader with a fetch cap far below its record batches (real Kafka): a batch larger
 * than what a fetch may return still arrives whole, for every partition of every topic, in order and
 * once, also while other partitions keep a backlog that would fill each fetch.
 */
describe('log consumer: record batches larger than the fetch cap', () => {
  const kafka = testKafka();
  const prefix = uniqueName('fetch_cap');
  const topics = [`${prefix}.a`, `${prefix}.b`];
  const partitions = 3;
  const cap = 256 * 1024;
  /** ~20 KB records, as the chat recipe's embeddings: 40 of them make a 800 KB batch, three times the cap. */
  const value = (tag: string) => `${tag}:${'x'.repeat(20_000)}`;
  let consumer: LogConsumer | null = null;

  afterAll(async () => {
    await consumer?.stop();
  });

  it('reads every record of batches three times the cap, in order, on six partitions', async () => {
    await ensureTopics(kafka, topics.map((topic) => ({ topic, partitions, config: CHANGE_TOPIC_CONFIG })), 1);
    const producer = kafka.producer();
    await producer.connect();
    const sent = new Map<string, string[]>();
    try {
      // per partition: a large batch, a small one, another large one (each send is one batch per partition)
      for (const [round, size] of [40, 3, 40].entries()) {
        for (const topic of topics) {
          const messages = Array.from({ length: partitions * size }, (_, index) => {
            const partition = index % partitions;
            const tag = `${topic}#${partition}/${round}/${index}`;
            sent.set(`${topic}#${partition}`, [...(sent.get(`${topic}#${partition}`) ?? []), tag]);
            return { partition, key: tag, value: value(tag) };
          });
          await producer.send({ topic, acks: -1, messages });
        }
      }
    } finally {
      await producer.disconnect();
    }

    const received = new Map<string, string[]>();
    consumer = new LogConsumer(kafka, `${prefix}.group`, topics, { deleteGroupOnStop: true, maxFetchBytes: cap });
    await consumer.start(
      async () => 0n,
      async (batch) => {
        const id = `${batch.topic}#${batch.partition}`;
        for (const record of batch.records) received.set(id, [...(received.get(id) ?? []), record.key!]);
      },
    );
    const total = [...sent.values()].reduce((sum, tags) => sum + tags.length, 0);
    const counts = () => JSON.stringify([...received].map(([id, tags]) => [id, tags.length]));
    await eventually(async () => [...received.values()].reduce((sum, tags) => sum + tags.length, 0) >= total, 90_000, `all ${total} records`).catch(
      (error: Error) => {
        throw new Error(`${error.message}; have ${counts()}`);
      },
    );
    expect(Object.fromEntries(received)).toEqual(Object.fromEntries(sent));
  });
});
