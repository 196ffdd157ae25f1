/* eslint-disable @typescript-eslint/no-require-imports */
import type { Message, PartitionMetadata } from 'kafkajs';
import { groupMessagesPerPartition } from './kafkajs-linear-grouping';
import { addPartitionsPromptly } from './add-partitions';
import { releaseRequestMemory } from './produce-request-encoder';

// kafkajs internals this produce path is built on (kafkajs 2.2.4 is final: they do not move).
const { staleMetadata } = require('kafkajs/src/protocol/error') as { staleMetadata: (e: unknown) => boolean };
const { KafkaJSMetadataNotLoaded } = require('kafkajs/src/errors') as {
  KafkaJSMetadataNotLoaded: new (message: string) => Error;
};
const responseSerializer = require('kafkajs/src/producer/responseSerializer') as (response: unknown) => unknown[];

/* What kafkajs hands its sendMessages factory (the parts used here). */
interface Broker {
  nodeId: number;
  produce(request: Record<string, unknown>): Promise<unknown>;
}
interface Cluster {
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  refreshMetadata(): Promise<void>;
  findTopicPartitionMetadata(topic: string): PartitionMetadata[];
  findBroker(args: { nodeId: string | number }): Promise<Broker>;
  removeBroker(args: { host: string; port: number }): void;
  isConnected(): boolean;
  connect(): Promise<void>;
}
interface EosManager {
  isTransactional(): boolean;
  getTransactionalId(): string;
  getProducerId(): number;
  getProducerEpoch(): number;
  getSequence(topic: string, partition: number): number;
  updateSequence(topic: string, partition: number, increment: number): void;
  addPartitionsToTransaction(topicData: TopicData[]): Promise<void>;
  acquireBrokerLock(broker: Broker): Promise<void>;
  releaseBrokerLock(broker: Broker): Promise<void> | void;
}
interface KafkajsLogger {
  warn(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
}
type Retrier = <T>(fn: (bail: (e: unknown) => void, retryCount: number, retryTime: number) => Promise<T>) => Promise<T>;
interface Dependencies {
  logger: KafkajsLogger;
  cluster: Cluster;
  partitioner: (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: Message }) => number;
  eosManager: EosManager;
  retrier: Retrier;
}
interface SendRequest {
  acks?: number;
  timeout?: number;
  compression?: number;
  topicMessages: Array<{ topic: string; messages: Message[] }>;
}
interface TopicData {
  topic: string;
  partitions: Array<{ partition: number; messages: Message[]; firstSequence?: number }>;
}

/**
 * Tandem's replacement for kafkajs's `producer/sendMessages` (installed by kafkajs-patches.ts).
 *
 * kafkajs 2.2.4 sends a request per leader broker with `Promise.all` and, on the first failure,
 * retries at once: a request still in flight to another broker is sent a second time (with the next
 * sequence numbers, so the broker cannot recognise it), which doubled records inside committed
 * transactions when a partition leader died; and it remembers successes per broker, so a partition
 * whose leadership moved to a broker that had already answered was never sent (records lost).
 * Here each attempt waits for every request before retrying, and progress is kept per partition:
 * a retry resends exactly the partitions not acknowledged, each with the same records and sequence
 * numbers as before, so a partition leader that did write them answers with the original offsets.
 */
export function createSendMessages({ logger, cluster, partitioner, eosManager, retrier }: Dependencies) {
  return async ({ acks = -1, timeout, compression, topicMessages }: SendRequest): Promise<unknown[]> => {
    const topics = topicMessages.map(({ topic }) => topic);
    let pending: Map<string, Map<number, Message[]>> | null = null; // not yet acknowledged
    const responses: unknown[] = [];

    const produce = async (nodeId: string, topicData: TopicData[]): Promise<unknown[]> => {
      const broker = await cluster.findBroker({ nodeId });
      await eosManager.acquireBrokerLock(broker);
      try {
        if (eosManager.isTransactional()) await addPartitionsPromptly(() => eosManager.addPartitionsToTransaction(topicData));
        for (const { topic, partitions } of topicData)
          for (const entry of partitions) {
            entry.firstSequence = eosManager.getSequence(topic, entry.partition);
            eosManager.updateSequence(topic, entry.partition, entry.messages.length);
          }
        let response: unknown;
        try {
          response = await broker.produce({
            transactionalId: eosManager.isTransactional() ? eosManager.getTransactionalId() : undefined,
            producerId: eosManager.getProducerId(),
            producerEpoch: eosManager.getProducerEpoch(),
            acks,
            timeout,
            compression,
            topicData,
          });
          if (acks !== 0) releaseRequestMemory(topicData); // answered: all of it was received
        } catch (error) {
          // Not acknowledged: the retry reuses these sequence numbers (a leader that wrote them dedups).
          for (const { topic, partitions } of topicData)
            for (const entry of partitions) eosManager.updateSequence(topic, entry.partition, -entry.messages.length);
          throw error;
        }
        return acks !== 0 ? responseSerializer(response) : [];
      } finally {
        await eosManager.releaseBrokerLock(broker);
      }
    };

    const attempt = async (): Promise<unknown[]> => {
      await cluster.refreshMetadataIfNecessary();
      pending ??= assignPartitions(cluster, partitioner, topicMessages);
      const requests = [...byLeader(cluster, pending)].map(async ([nodeId, topicData]) => {
        const acknowledged = await produce(nodeId, topicData);
        responses.push(...acknowledged);
        for (const { topic, partitions } of topicData)
          for (const { partition } of partitions) pending!.get(topic)!.delete(partition);
      });
      const failed = (await Promise.allSettled(requests)).find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      return responses;
    };

    return retrier(async (bail, retryCount, retryTime) => {
      await cluster.addMultipleTargetTopics(topics);
      try {
        return await attempt();
      } catch (caught) {
        const e = caught as Error & { retriable?: boolean; host?: string; port?: number };
        if (e.name === 'KafkaJSConnectionClosedError') cluster.removeBroker({ host: e.host!, port: e.port! });
        if (!cluster.isConnected()) {
          await cluster.connect();
          await cluster.refreshMetadata();
          throw e;
        }
        const metadataMoved =
          staleMetadata(e) ||
          ['KafkaJSMetadataNotLoaded', 'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSBrokerNotFound'].includes(e.name) ||
          (e.name === 'KafkaJSProtocolError' && e.retriable);
        if (metadataMoved) {
          logger.warn(`Failed to send messages: ${e.message}`, { retryCount, retryTime });
          await cluster.refreshMetadata();
          throw e;
        }
        logger.error(e.message, { retryCount, retryTime });
        if (e.retriable) throw e;
        bail(e);
        return [];
      }
    });
  };
}

/**
 * Every message's partition, chosen once for all attempts (a retry must resend the same batches),
 * and only when every topic's metadata is known.
 */
function assignPartitions(
  cluster: Cluster,
  partitioner: Dependencies['partitioner'],
  topicMessages: SendRequest['topicMessages'],
): Map<string, Map<number, Message[]>> {
  const metadata = topicMessages.map(({ topic }) => cluster.findTopicPartitionMetadata(topic));
  const missing = topicMessages.find((_, i) => metadata[i].length === 0);
  if (missing) throw new KafkaJSMetadataNotLoaded(`Producing to topic without metadata: ${missing.topic}`);
  const assigned = new Map<string, Map<number, Message[]>>();
  topicMessages.forEach(({ topic, messages }, i) => {
    const groups = groupMessagesPerPartition({ topic, partitionMetadata: metadata[i], messages, partitioner });
    const partitions = assigned.get(topic) ?? new Map<number, Message[]>();
    for (const [partition, group] of Object.entries(groups)) partitions.set(Number(partition), group);
    assigned.set(topic, partitions);
  });
  return assigned;
}

/** The pending partitions grouped by their current leader. */
function byLeader(cluster: Cluster, pending: Map<string, Map<number, Message[]>>): Map<string, TopicData[]> {
  const perLeader = new Map<string, TopicData[]>();
  for (const [topic, partitions] of pending) {
    if (partitions.size === 0) continue;
    const metadata = cluster.findTopicPartitionMetadata(topic);
    for (const [partition, messages] of partitions) {
      const leader = metadata.find((p) => p.partitionId === partition)?.leader;
      if (leader === undefined || leader === null || leader < 0)
        throw new KafkaJSMetadataNotLoaded(`No leader known for ${topic}/${partition}`);
      const topicData = perLeader.get(String(leader)) ?? [];
      let entry = topicData.find((t) => t.topic === topic);
      if (!entry) topicData.push((entry = { topic, partitions: [] }));
      entry.partitions.push({ partition, messages });
      perLeader.set(String(leader), topicData);
    }
  }
  return perLeader;
}
