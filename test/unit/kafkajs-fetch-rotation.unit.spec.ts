import '../../src/connectors/kafka/kafkajs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup');

/** A consumer group's fetch planning only: every partition led by broker 1. */
function group() {
  const instance = Object.create(ConsumerGroup.prototype);
  instance.findReadReplicaForPartitions = (_topic: string, partitions: number[]) => ({ 1: partitions });
  return instance;
}

describe('kafkajs fetch order', () => {
  it('puts each partition of each topic first in turn, and always asks for all of them', () => {
    const consumer = group();
    const assigned = [
      { topic: 'a', partitions: [0, 1, 2] },
      { topic: 'b', partitions: [0, 1, 2] },
    ];
    const firsts = new Set<string>();
    for (let fetch = 0; fetch < 6; fetch++) {
      const requested: Array<{ topic: string; partitions: number[] }> = consumer.filterPartitionsByNode(1, assigned);
      firsts.add(`${requested[0].topic}#${requested[0].partitions[0]}`);
      expect(requested.map((t) => `${t.topic}:${[...t.partitions].sort().join(',')}`).sort()).toEqual(['a:0,1,2', 'b:0,1,2']);
    }
    expect([...firsts].sort()).toEqual(['a#0', 'a#1', 'a#2', 'b#0', 'b#1', 'b#2']);
  });
});
