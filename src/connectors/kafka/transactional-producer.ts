import { type Kafka, type Message, type Producer, type TopicMessages, type Transaction } from 'kafkajs';
import { KeyHashPartitioner } from './key-hash-partitioner';
import { isRetriable, retryTransient } from './retry';

import type { ProducedRecord } from '../../contracts/positions';

/** A record that says where its producer stands, committed with the records it describes. */
export interface PositionRecord {
  topic: string;
  key: string;
  value: string;
  /** The consumer group whose committed offset (on `topic`, partition 0) points at this record. */
  groupId: string;
}

/** A producer of Kafka transactions: records and a position record, all or nothing. */
export interface RecordCommitter {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  commit(
    records: ProducedRecord[],
    position?: PositionRecord,
    onProgress?: (sent: number) => void,
  ): Promise<void>;
}

/**
 * Bytes per produce request. Tandem's topics allow 16 MiB batches (topic-admin.ts); spread over the
 * partitions, a request of this size stays far below that and below the broker's request limit.
 */
const MAX_REQUEST_BYTES = 2_000_000;

/**
 * Produces records and a position record in one Kafka transaction (acks=all, idempotent). Readers
 * with isolation read_committed see all of it or none of it. The position record's offset is
 * committed for a consumer group in the same transaction, so it can be found again exactly.
 */
export class TransactionalProducer implements RecordCommitter {
  private readonly producer: Producer;

  constructor(kafka: Kafka, transactionalId: string) {
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: 120_000,
      // The coordinator answers CONCURRENT_TRANSACTIONS while it finishes the previous commit; retry
      // quickly (as Java clients do) instead of kafkajs's default 300 ms backoff.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20, maxRetryTime: 1000 },
      allowAutoTopicCreation: false,
      // murmur2 on the key, as Java clients and Debezium partition
      createPartitioner: KeyHashPartitioner,
    });
  }

  /** Connecting fences any older producer with the same transactional id and aborts its open transaction. */
  connect(): Promise<void> {
    return retryTransient(() => this.producer.connect());
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /**
   * Produces `records` (and, when given, the position record) in one Kafka transaction. A retriable
   * error before the commit request (a coordinator moving or still loading) aborts the transaction
   * and runs it again; nothing of an aborted transaction is visible. An error of the commit request
   * itself is not retried: the commit may have happened, and a second one would double the records.
   */
  async commit(
    records: ProducedRecord[],
    position?: PositionRecord,
    onProgress?: (sent: number) => void,
  ): Promise<void> {
    let reported = 0; // progress is reported once per record, however many attempts it takes
    for (let attempt = 1; ; attempt++) {
      const transaction = await this.producer.transaction();
      let committing = false;
      let sent = 0;
      try {
        for (const batch of splitBySize(records)) {
          await transaction.sendBatch({ topicMessages: groupByTopic(batch), acks: -1 });
          sent += batch.length;
          if (sent > reported) onProgress?.(sent - reported);
          reported = Math.max(reported, sent);
        }
        if (position) await this.sendPosition(transaction, position);
        committing = true;
        await transaction.commit();
        return;
      } catch (error) {
        if (committing) throw error;
        // Rerun only from a cleanly aborted transaction; otherwise the original error says what happened
        // (a broker that went away), not the producer's state machine on the next attempt.
        const aborted = await transaction.abort().then(
          () => true,
          () => false,
        );
        if (!aborted || !isRetriable(error) || attempt >= TRANSACTION_ATTEMPTS) throw error;
      }
    }
  }

  private async sendPosition(transaction: Transaction, position: PositionRecord): Promise<void> {
    const [sent] = await transaction.send({
      topic: position.topic,
      acks: -1,
      messages: [{ key: position.key, value: position.value, partition: 0 }],
    });
    const nextOffset = (BigInt(sent.baseOffset ?? sent.offset ?? '0') + 1n).toString();
    await transaction.sendOffsets({
      consumerGroupId: position.groupId,
      topics: [{ topic: position.topic, partitions: [{ partition: 0, offset: nextOffset }] }],
    });
  }
}

const TRANSACTION_ATTEMPTS = 5;

function* splitBySize(records: ProducedRecord[]): Generator<ProducedRecord[]> {
  let batch: ProducedRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = (record.key?.length ?? 0) + (record.value?.length ?? 0) + 64;
    if (batch.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(record);
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

function groupByTopic(records: ProducedRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const record of records) {
    let messages = byTopic.get(record.topic);
    if (!messages) byTopic.set(record.topic, (messages = []));
    const message: Message = { key: record.key, value: record.value };
    if (record.partition !== undefined) message.partition = record.partition;
    messages.push(message);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
