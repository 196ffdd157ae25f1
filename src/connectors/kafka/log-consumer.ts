import type { Consumer, Kafka } from 'kafkajs';
import { retryTransient } from './retry';
import type { LogRecord } from '../../contracts/positions';

/** The max.message.bytes of the topics Tandem creates (topic-admin.ts). */
const MAX_BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Record bytes one fetch returns at most (over all partitions): the fetch's records stay in memory,
 * as the response and then as strings, until it is handled. A record batch above it still arrives
 * whole: the broker returns the first batch of the fetch's first non-empty partition whole whatever
 * the limit (and up to maxBytesPerPartition for each partition), and kafkajs-fetch-rotation.ts turns
 * which partition comes first, so each partition's next batch comes whole in turn. (A 4 MiB cap was
 * once reverted for a stall of the chat projector: that was ordering-wait.ts's retry pass, which the
 * different order of arrival brought out, not the fetch.)
 */
const MAX_FETCH_BYTES = 4 * 1024 * 1024;

export interface PartitionBatch {
  topic: string;
  partition: number;
  records: LogRecord[];
  /** How far the partition's committed data reaches (for lag). */
  highWatermark: bigint;
  /** Tells the group coordinator this member is alive; call between long pieces of work. */
  heartbeat: () => Promise<void>;
}

export type StartOffsets = (topic: string, partition: number) => Promise<bigint>;

/**
 * A consumer-group member that reads committed records from the offsets its owner decides (its own
 * checkpoints), not from the offsets Kafka stored for the group. Kafka's group offsets are still
 * committed after each handled batch, so standard lag tools keep working.
 */
export class LogConsumer {
  private readonly consumer: Consumer;
  private readonly next = new Map<string, bigint>();
  private readonly soughtBack = new Set<string>();

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly topics: string[],
    private readonly options: { deleteGroupOnStop?: boolean; maxFetchBytes?: number } = {},
  ) {
    this.consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      // A record batch is received whole: allow the largest a Tandem topic accepts (a larger first batch of a
      // fetch comes whole too, past maxBytes).
      maxBytesPerPartition: MAX_BATCH_BYTES,
      maxBytes: options.maxFetchBytes ?? MAX_FETCH_BYTES,
      maxWaitTimeInMs: 250,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3000,
    });
  }

  async start(startOffsets: StartOffsets, handle: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    const id = (topic: string, partition: number) => `${topic}#${partition}`;
    const expected = async (topic: string, partition: number): Promise<bigint> => {
      const known = this.next.get(id(topic, partition));
      if (known !== undefined) return known;
      const start = await startOffsets(topic, partition);
      // The group join and the first batch both ask; whichever comes second must not move the
      // position back to where the partition started once records were handled meanwhile.
      const offset = this.next.get(id(topic, partition)) ?? start;
      this.next.set(id(topic, partition), offset);
      return offset;
    };
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.next.clear(); // a new assignment: start again from the owner's checkpoints
      this.soughtBack.clear();
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) {
          // A seek that lands while kafkajs restarts the consumer (a rejoin under load) throws, and a
          // lookup can fail (a topic created a moment ago has no leader yet); the next join seeks
          // again, and the first batch seeks back itself (below): nothing is lost.
          void expected(topic, partition)
            .then((offset) => this.consumer.seek({ topic, partition, offset: offset.toString() }))
            .catch(() => undefined);
        }
      }
    });
    await retryTransient(() => this.consumer.connect());
    for (const topic of this.topics) await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: true,
      autoCommitInterval: 5000,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        if (!isRunning() || isStale()) return;
        const from = await expected(batch.topic, batch.partition);
        const records = batch.messages
          .map((message) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: BigInt(message.offset),
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
          }))
          .filter((record) => record.offset >= from);
        const fetchedFrom = BigInt((batch as unknown as { fetchedOffset: string }).fetchedOffset);
        const key = id(batch.topic, batch.partition);
        if (fetchedFrom > from && !this.soughtBack.has(key)) {
          // The first fetch of an assignment may start at the group's stored offset, past our checkpoint.
          this.soughtBack.add(key);
          this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: from.toString() });
          return;
        }
        this.soughtBack.add(key);
        if (records.length === 0) {
          // Everything fetched was applied already (a late seek from the group join moved the fetch
          // position back): move it forward again, or kafkajs would fetch this range forever.
          if (batch.messages.length > 0) this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: from.toString() });
          return;
        }
        await handle({ topic: batch.topic, partition: batch.partition, records, highWatermark: BigInt(batch.highWatermark), heartbeat });
        const last = records[records.length - 1].offset;
        this.next.set(id(batch.topic, batch.partition), last + 1n);
        resolveOffset(last.toString());
        await commitOffsetsIfNecessary();
        await heartbeat();
      },
    });
  }

  /** Waits for the batch in progress, then leaves the group. */
  async stop(): Promise<void> {
    await this.consumer.disconnect();
    if (!this.options.deleteGroupOnStop) return;
    const admin = this.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([this.groupId]).catch(() => undefined);
    await admin.disconnect();
  }

  /** The first offset still in a partition (where reading "from the beginning" starts). */
  async lowWatermark(topic: string, partition: number): Promise<bigint> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
    } finally {
      await admin.disconnect();
    }
  }
}
