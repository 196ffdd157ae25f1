import type { Message, PartitionMetadata } from 'kafkajs';

interface GroupingInput {
  topic: string;
  partitionMetadata: PartitionMetadata[];
  messages: Message[];
  partitioner: (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: Message }) => number;
}

/** kafkajs's groupMessagesPerPartition, in one pass: the same groups in the same order. */
export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupingInput) {
  const groups: Record<number, Message[]> = {};
  if (partitionMetadata.length === 0) return groups;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (groups[partition] ??= []).push(message);
  }
  return groups;
}

const MODULE = 'kafkajs/src/producer/groupMessagesPerPartition';

/**
 * kafkajs 2.2.4 copies a partition's whole array for every message it adds to it
 * (`[...current, message]`), which is quadratic in the records of a produce request and cost about
 * 10 % of capture's producer thread. This puts the one-pass version in its place in Node's module
 * cache; it takes effect only when it runs before kafkajs is first loaded (the producer thread's
 * first import).
 */
export function installLinearGrouping(): void {
  const sendMessages = require.resolve('kafkajs/src/producer/sendMessages');
  if (require.cache[sendMessages]) return;
  const path = require.resolve(MODULE);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(path);
  require.cache[path]!.exports = groupMessagesPerPartition;
}
