import type { Kafka, Message, Producer, RecordMetadata, TopicMessages, Transaction } from './kafkajs';
import { KeyHashPartitioner } from './key-hash-partitioner';
import './kafkajs';
import { assertKafkajsPatched } from './kafkajs-patches';
import { isFenced, isRerunnable, retryTransient } from './retry';

import type { ProducedRecord } from '../../contracts/positions';
import { PackedRecords, type OutgoingRecord } from './packed-records';

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
    records: readonly ProducedRecord[] | PackedRecords,
    position?: PositionRecord,
    onProgress?: (sent: number) => void,
  ): Promise<void>;
}

/**
 * Bytes per produce request. Tandem's topics allow 16 MiB batches (topic-admin.ts); spread over the
 * partitions, a request of this size stays far below that and below the broker's request limit.
 */
const MAX_REQUEST_BYTES = 2_000_000;

/** How long commit() keeps running a transaction again through retriable errors, and its pauses. */
export interface CommitRetry {
  budgetMs: number;
  backoffMs: (attempt: number) => number;
}
const DEFAULT_RETRY: CommitRetry = {
  budgetMs: 120_000, // a coordinator or leader election on a loaded cluster takes tens of seconds
  backoffMs: (attempt) => Math.min(250 * 2 ** (attempt - 1), 5_000),
};

/**
 * Produces records and a position record in one Kafka transaction (acks=all, idempotent). Readers
 * with isolation read_committed see all of it or none of it. The position record's offset is
 * committed for a consumer group in the same transaction, so it can be found again exactly.
 */
export class TransactionalProducer implements RecordCommitter {
  private producer: Producer;

  constructor(
    private readonly kafka: Kafka,
    private readonly transactionalId: string,
    private readonly retry: CommitRetry = DEFAULT_RETRY,
  ) {
    assertKafkajsPatched();
    this.producer = this.createProducer();
  }

  /**
   * Fences any older producer with the same transactional id. The coordinator answers only once that
   * producer's open transaction has ended: committed if its commit had been asked for, else aborted.
   * So a position read back after connect() is final, not one a pending commit is about to change.
   */
  connect(): Promise<void> {
    return retryTransient(() => this.fence(), 120, 500);
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /**
   * Produces `records` (and, when given, the position record) in one Kafka transaction, exactly once.
   * A retriable error before the commit request (a leader or coordinator moving) fences this
   * producer with a new one, which aborts the transaction, and runs it again. An error of the commit
   * request itself leaves its outcome unknown: the new producer's fence settles it, and the position
   * group's committed offset says whether it was committed; only if not is it run again.
   */
  async commit(
    given: readonly OutgoingRecord[] | PackedRecords,
    position?: PositionRecord,
    onProgress?: (sent: number) => void,
  ): Promise<void> {
    const records = given instanceof PackedRecords ? given.records() : given;
    let reported = 0; // progress is reported once per record, however many attempts it takes
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      let committing = false;
      let nextOffset: string | null = null;
      let sent = 0;
      try {
        const transaction = await this.producer.transaction();
        const batches = [...splitBySize(records)];
        if (batches.length === 0 && position) batches.push([]);
        for (const [index, batch] of batches.entries()) {
          // the position record rides in the last produce request instead of a request of its own
          const withPosition = index === batches.length - 1 ? position : undefined;
          const topicMessages = groupByTopic(batch);
          if (withPosition) topicMessages.push({ topic: withPosition.topic, messages: [positionMessage(withPosition)] });
          const acknowledged = await transaction.sendBatch({ topicMessages, acks: -1 });
          if (withPosition) nextOffset = await this.sendPositionOffset(transaction, withPosition, acknowledged);
          sent += batch.length;
          if (sent > reported) onProgress?.(sent - reported);
          reported = Math.max(reported, sent);
        }
        committing = true;
        await transaction.commit();
        return;
      } catch (error) {
        if (!isRerunnable(error) && !(committing && !isFenced(error))) throw error;
        if (Date.now() - started > this.retry.budgetMs) throw error;
        await this.replaceProducer();
        if (committing) {
          if (!position || nextOffset === null) throw error; // nothing to tell whether it was committed
          if (await this.committedUpTo(position, nextOffset)) return;
        }
        await sleep(this.retry.backoffMs(attempt));
      }
    }
  }

  private createProducer(): Producer {
    return this.kafka.producer({
      transactionalId: this.transactionalId,
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

  /** InitProducerId for the transactional id (kafkajs asks it on the first transaction). */
  private async fence(): Promise<void> {
    await this.producer.connect();
    const transaction = await this.producer.transaction();
    await transaction.abort(); // nothing was sent: ends it without a request
  }

  /** A new producer (new epoch, sequence numbers from zero) in place of one whose state is unknown. */
  private async replaceProducer(): Promise<void> {
    const previous = this.producer;
    this.producer = this.createProducer();
    void previous.disconnect().catch(() => undefined);
    await retryTransient(() => this.fence(), 120, 500);
  }

  /** Whether the position group's committed offset has reached `nextOffset` (after a fence: final). */
  private async committedUpTo(position: PositionRecord, nextOffset: string): Promise<boolean> {
    const admin = this.kafka.admin();
    await retryTransient(() => admin.connect());
    try {
      const [offsets] = await retryTransient(() =>
        admin.fetchOffsets({ groupId: position.groupId, topics: [position.topic] }),
      );
      const committed = offsets?.partitions.find((p) => p.partition === 0)?.offset ?? '-1';
      return BigInt(committed) >= BigInt(nextOffset);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Commits the position group's offset just after the position record (acknowledged in `sent`); returns that offset. */
  private async sendPositionOffset(transaction: Transaction, position: PositionRecord, sent: RecordMetadata[]): Promise<string> {
    const written = sent.find((entry) => entry.topicName === position.topic && Number(entry.partition) === 0);
    if (!written) throw new Error(`Kafka did not acknowledge the position record on ${position.topic}`);
    const nextOffset = (BigInt(written.baseOffset ?? written.offset ?? '0') + 1n).toString();
    await transaction.sendOffsets({
      consumerGroupId: position.groupId,
      topics: [{ topic: position.topic, partitions: [{ partition: 0, offset: nextOffset }] }],
    });
    return nextOffset;
  }
}

const positionMessage = (position: PositionRecord): Message => ({ key: position.key, value: position.value, partition: 0 });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function* splitBySize(records: readonly OutgoingRecord[]): Generator<OutgoingRecord[]> {
  let batch: OutgoingRecord[] = [];
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

export function groupByTopic(records: readonly OutgoingRecord[]): TopicMessages[] {
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
