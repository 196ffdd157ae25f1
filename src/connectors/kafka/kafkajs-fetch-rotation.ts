interface TopicPartitions {
  topic: string;
  partitions: number[];
}

interface ConsumerGroupInternals {
  filterPartitionsByNode(nodeId: number, topicPartitions: TopicPartitions[]): TopicPartitions[];
  fetchTurn?: number;
}

const rotated = <T>(items: T[], by: number): T[] => {
  if (items.length < 2) return items;
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
};

/**
 * kafkajs 2.2.4 lists a consumer's partitions in the same order in every fetch, and the broker fills
 * a fetch's byte budget (the consumer's maxBytes) in that order: under a backlog the first partitions
 * take all of it, and a record batch larger than what is left for a later partition is returned only
 * when that partition comes first. This turns the order by one partition per fetch (the topics, and
 * within them the partitions), so that each partition comes first in turn.
 */
export function installFetchRotation(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup') as { prototype: ConsumerGroupInternals & { rotatesFetches?: boolean } };
  const prototype = ConsumerGroup.prototype;
  if (prototype.rotatesFetches) return;
  const filterPartitionsByNode = prototype.filterPartitionsByNode;
  prototype.filterPartitionsByNode = function (this: ConsumerGroupInternals, nodeId, topicPartitions) {
    const requested = filterPartitionsByNode.call(this, nodeId, topicPartitions);
    const turn = (this.fetchTurn = (this.fetchTurn ?? -1) + 1);
    const topics = Math.max(1, requested.length);
    return rotated(requested, turn).map(({ topic, partitions }) => ({ topic, partitions: rotated(partitions, Math.floor(turn / topics)) }));
  };
  prototype.rotatesFetches = true;
}
