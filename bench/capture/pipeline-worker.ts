/**
 * The producer thread of bench/capture/pipeline.ts: what capture's producer thread does per record
 * (records of the request, request-sized batches, grouping by topic and partition, the Produce
 * request and its framing), without a broker.
 */
import '../../src/connectors/kafka/producer-worker-setup';
import { parentPort } from 'worker_threads';
import type { Message, PartitionMetadata } from 'kafkajs';
import { groupByTopic, splitBySize } from '../../src/connectors/kafka/transactional-producer';
import { recordsOf } from '../../src/connectors/kafka/producer-thread-protocol';
import { KeyHashPartitioner } from '../../src/connectors/kafka/key-hash-partitioner';
import { groupMessagesPerPartition } from '../../src/connectors/kafka/kafkajs-linear-grouping';
import { frameRequest } from '../../src/connectors/kafka/request-framing';
import type { ProducerThreadRequest } from '../../src/connectors/kafka/producer-thread-protocol';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const produce = require('kafkajs/src/protocol/requests/produce/v3/request') as (args: unknown) => {
  apiKey: number;
  apiVersion: number;
  encode: () => Promise<{ buf: Buffer; offset: number; buffer: Buffer }>;
};

const partitionMetadata: PartitionMetadata[] = [0, 1, 2].map((partitionId) => ({
  partitionId,
  leader: 1,
  partitionErrorCode: 0,
  replicas: [1],
  isr: [1],
}));
const partitioner = KeyHashPartitioner();
let correlationId = 0;
let sequence = 0;

async function encode(topicMessages: Array<{ topic: string; messages: Message[] }>): Promise<number> {
  const topicData = topicMessages.map(({ topic, messages }) => {
    const groups = groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner });
    return {
      topic,
      partitions: Object.entries(groups).map(([partition, group]) => {
        const firstSequence = sequence;
        sequence += group.length;
        return { partition: Number(partition), firstSequence, messages: group };
      }),
    };
  });
  const request = produce({ acks: -1, timeout: 30000, transactionalId: 'bench', producerId: '1000', producerEpoch: 0, topicData });
  const framed = await frameRequest({ correlationId: correlationId++, clientId: 'tandem', request });
  return framed.buffer.length;
}

parentPort!.on('message', async (request: ProducerThreadRequest) => {
  if (request.kind !== 'commit') return;
  let bytes = 0;
  for (const batch of splitBySize(recordsOf(request))) bytes += await encode(groupByTopic(batch));
  if (request.position) {
    const { topic, key, value } = request.position;
    bytes += await encode([{ topic, messages: [{ key, value, partition: 0 }] }]);
  }
  parentPort!.postMessage({ id: request.id, bytes });
});
