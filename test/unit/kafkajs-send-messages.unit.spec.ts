import { createSendMessages } from '../../src/connectors/kafka/kafkajs-send-messages';
import { installKafkajsPatches } from '../../src/connectors/kafka/kafkajs-patches';

// kafkajs's retry helper, as kafkajs hands it to its produce path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createRetry = require('kafkajs/src/retry') as (options: object) => any;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Two brokers and one topic of two partitions, leader 1 for partition 0 and leader 2 for partition 1.
 * Each partition's log keeps what its leader appended, and, like an idempotent Kafka partition,
 * ignores a batch whose first sequence number it has already appended (a retried batch).
 */
function fakeCluster(faults: {
  /** Broker 1 dies during its first request (its connection breaks before it answers)... */
  brokerOneDies?: boolean;
  /** ...after it wrote (and replicated) the request's records. */
  brokerOneWrote?: boolean;
  /** Milliseconds broker 2 takes to answer. */
  brokerTwoLatencyMs?: number;
}) {
  const leaders = new Map([
    [0, 1],
    [1, 2],
  ]);
  const logs = new Map<number, { sequences: Set<number>; values: string[] }>([
    [0, { sequences: new Set(), values: [] }],
    [1, { sequences: new Set(), values: [] }],
  ]);
  let brokerOneAlive = true;
  let offset = 0;
  const append = (partitions: Array<{ partition: number; firstSequence: number; messages: Array<{ value: string }> }>) =>
    partitions.map(({ partition, firstSequence, messages }) => {
      const log = logs.get(partition)!;
      if (!log.sequences.has(firstSequence)) {
        log.sequences.add(firstSequence);
        log.values.push(...messages.map((m) => m.value));
      }
      return { partition, errorCode: 0, baseOffset: String(offset++) };
    });
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({ topicData }: { topicData: Array<{ topic: string; partitions: any[] }> }) => {
      if (nodeId === 1) {
        if (!brokerOneAlive) throw Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
        await sleep(5);
        if (faults.brokerOneDies) {
          if (faults.brokerOneWrote) append(topicData[0].partitions);
          brokerOneAlive = false;
          leaders.set(0, 2); // the controller moves partition 0 to broker 2
          throw Object.assign(new Error('Connection error: read ECONNRESET'), { name: 'KafkaJSConnectionError', retriable: true });
        }
      } else await sleep(faults.brokerTwoLatencyMs ?? 1);
      const partitions = topicData.flatMap((t) => t.partitions.filter((p) => leaders.get(p.partition) === nodeId));
      return { topics: [{ topicName: 't', partitions: append(partitions) }] };
    },
  });
  const brokers = new Map([
    [1, broker(1)],
    [2, broker(2)],
  ]);
  const metadata = () => [...leaders].map(([partitionId, leader]) => ({ partitionId, leader }));
  let known = metadata();
  const cluster = {
    addMultipleTargetTopics: async () => undefined,
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => {
      known = metadata();
    },
    findTopicPartitionMetadata: () => known,
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const byLeader: Record<number, number[]> = {};
      for (const id of partitions.map(Number)) (byLeader[known.find((p) => p.partitionId === id)!.leader] ??= []).push(id);
      return byLeader;
    },
    findBroker: async ({ nodeId }: { nodeId: string | number }) => brokers.get(Number(nodeId))!,
    removeBroker: () => undefined,
    isConnected: () => true,
    connect: async () => undefined,
  };
  return { cluster, logs };
}

function fakeEosManager() {
  const sequences = new Map<string, number>();
  return {
    isTransactional: () => false,
    getTransactionalId: () => 'tx',
    getProducerId: () => 1,
    getProducerEpoch: () => 0,
    getSequence: (topic: string, partition: number) => sequences.get(`${topic}/${partition}`) ?? 0,
    updateSequence: (topic: string, partition: number, increment: number) =>
      sequences.set(`${topic}/${partition}`, (sequences.get(`${topic}/${partition}`) ?? 0) + increment),
    addPartitionsToTransaction: async () => undefined,
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: () => undefined,
  };
}

const quietLogger = { warn: () => undefined, error: () => undefined, debug: () => undefined, info: () => undefined };
const messages = (partition: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ key: null, value: `p${partition}-${i}`, partition }));

async function send(faults: Parameters<typeof fakeCluster>[0]) {
  const { cluster, logs } = fakeCluster(faults);
  const sendMessages = createSendMessages({
    logger: quietLogger,
    cluster: cluster as any,
    partitioner: ({ message }) => message.partition!,
    eosManager: fakeEosManager(),
    retrier: createRetry({ retries: 10, initialRetryTime: 1, maxRetryTime: 5 }),
  });
  await sendMessages({ acks: -1, topicMessages: [{ topic: 't', messages: [...messages(0, 3), ...messages(1, 4)] }] });
  return logs;
}

describe("Tandem's produce path (in place of kafkajs's sendMessages)", () => {
  it('writes every record exactly once when a leader dies while a request to another broker is in flight', async () => {
    const logs = await send({ brokerOneDies: true, brokerOneWrote: true, brokerTwoLatencyMs: 40 });
    expect(logs.get(0)!.values).toEqual(['p0-0', 'p0-1', 'p0-2']);
    expect(logs.get(1)!.values).toEqual(['p1-0', 'p1-1', 'p1-2', 'p1-3']);
  });

  it('sends a partition whose leadership moved to a broker that had already answered', async () => {
    const logs = await send({ brokerOneDies: true, brokerOneWrote: false, brokerTwoLatencyMs: 0 });
    expect(logs.get(0)!.values).toEqual(['p0-0', 'p0-1', 'p0-2']);
    expect(logs.get(1)!.values).toEqual(['p1-0', 'p1-1', 'p1-2', 'p1-3']);
  });

  it('is what kafkajs producers use once installed', () => {
    installKafkajsPatches();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('kafkajs/src/producer/sendMessages')).toBe(createSendMessages);
  });
});
