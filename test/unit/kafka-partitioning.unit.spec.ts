import { randomBytes } from 'crypto';
import { Partitioners, type Message, type PartitionMetadata } from '../../src/connectors/kafka/kafkajs';
import { groupMessagesPerPartition } from '../../src/connectors/kafka/kafkajs-linear-grouping';
import { KeyHashPartitioner, murmur2 } from '../../src/connectors/kafka/key-hash-partitioner';

// kafkajs's own implementations, the reference: a record must land on the same partition as before.
/* eslint-disable @typescript-eslint/no-require-imports */
type Murmur2 = (key: string | Buffer) => number;
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as Murmur2;
const kafkajsGrouping =
  require('kafkajs/src/producer/groupMessagesPerPartition') as typeof groupMessagesPerPartition;
/* eslint-enable @typescript-eslint/no-require-imports */

const partitions = (count: number): PartitionMetadata[] =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

const keys = [
  '',
  'a',
  'ab',
  'abc',
  'abcd',
  '{"id":1}',
  '{"id":"2b0c5c6e-6a3e-4a53-9f55-5a1f2f0f3d11"}',
  'ünïcödé ✓ keys',
  ...Array.from({ length: 2_000 }, (_, i) => randomBytes(i % 67).toString('latin1')),
];

describe('Kafka partitioning', () => {
  it('murmur2 equals kafkajs’s (and so the Java client’s) for every key length and byte', () => {
    for (const key of keys) {
      expect([key, murmur2(key)]).toEqual([key, kafkajsMurmur2(key)]);
      const bytes = Buffer.from(key, 'latin1');
      expect(murmur2(bytes)).toBe(kafkajsMurmur2(bytes));
    }
  });

  it('KeyHashPartitioner chooses the partition kafkajs’s DefaultPartitioner chooses', () => {
    const ours = KeyHashPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const count of [1, 3, 12]) {
      const partitionMetadata = partitions(count);
      for (const key of keys) {
        const message: Message = { key, value: 'v' };
        expect(ours({ topic: 't', partitionMetadata, message })).toBe(
          theirs({ topic: 't', partitionMetadata, message }),
        );
      }
      const pinned: Message = { key: 'k', value: 'v', partition: count - 1 };
      expect(ours({ topic: 't', partitionMetadata, message: pinned })).toBe(count - 1);
    }
  });

  it('spreads keyless records over the partitions that have a leader', () => {
    const partitioner = KeyHashPartitioner();
    const partitionMetadata = partitions(4).map((p) => (p.partitionId === 2 ? { ...p, leader: -1 } : p));
    const chosen = new Set(
      Array.from({ length: 30 }, () =>
        partitioner({ topic: 't', partitionMetadata, message: { key: null, value: 'v' } }),
      ),
    );
    expect([...chosen].sort()).toEqual([0, 1, 3]);
  });

  it('groups a batch per partition exactly as kafkajs does, in one pass', () => {
    const partitionMetadata = partitions(3);
    const messages: Message[] = keys.map((key, i) => ({ key, value: String(i) }));
    const partitioner = KeyHashPartitioner();
    const args = { topic: 't', partitionMetadata, messages, partitioner };
    expect(groupMessagesPerPartition(args)).toEqual(kafkajsGrouping(args));
    expect(groupMessagesPerPartition({ ...args, partitionMetadata: [] })).toEqual({});
  });
});
