import { randomUUID } from 'crypto';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from '../../shared/logger';
import { LogConsumer, type PartitionBatch } from '../../connectors/kafka/log-consumer';
import { CHANGE_TOPIC_CONFIG, ensureTopics } from '../../connectors/kafka/topic-admin';
import {
  loadCheckpoints,
  partitionId,
  type Checkpoint,
} from '../../connectors/postgres-target/checkpoint-store';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../connectors/postgres-target/migrations';
import { decodeRecord } from './event-decoder';
import { applyBatch, type BatchItem, type Quarantined } from './batch-applier';
import { sourcesOf, type ProjectionDefinition } from './define-projection';
import { buildDeferredIndexes } from './deferred-indexes';
import { ParentRetry, waitsForParent } from './parent-retry';

export interface ProjectionRunnerOptions {
  definition: ProjectionDefinition<unknown>;
  topicPrefix: string;
  partitions: number;
  replicationFactor: number;
  /** Events per target transaction at most. */
  maxBatchEvents: number;
  kafka: Kafka;
  pool: Pool;
  logger: Logger;
  /** Called for each batch instead of writing, in --dry-run. */
  plan?: (items: BatchItem[]) => void;
  /** Called after each applied batch (metrics). */
  onBatchApplied?: (batch: AppliedBatch) => void;
}

export interface AppliedBatch {
  projection: string;
  applied: number;
  quarantined: number;
  /** Time of the target transaction (rows, quarantine and checkpoint). */
  seconds: number;
}

export interface ProjectionStatus {
  projection: string;
  eventsApplied: number;
  eventsQuarantined: number;
  lastBatchAt: number | null;
  /** Per topic-partition: records in Kafka not applied yet. */
  lag: Record<string, number>;
}

/** One consumer group per projection and topic prefix (two deployments may share a Kafka cluster). */
export const consumerGroupOf = (prefix: string, projection: string) =>
  `tandem-projection.${prefix}.${projection}`;
export const deadLetterTopic = (prefix: string, projection: string) => `${prefix}.dlq.${projection}`;

/**
 * Runs one projection: a consumer-group member that reads its source topics from its own
 * checkpoints, applies each batch in one target transaction (rows + quarantine + checkpoint), and
 * sends rejected events to the dead-letter topic.
 */
export class ProjectionRunner {
  private consumer: LogConsumer | null = null;
  private producer: Producer | null = null;
  private checkpoints = new Map<string, Checkpoint>();
  private deferredIndexesBuilt = false;
  private readonly parentRetry: ParentRetry;
  readonly statusValue: ProjectionStatus;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.parentRetry = new ParentRetry(options.pool, options.definition, options.topicPrefix, options.logger);
    this.statusValue = {
      projection: options.definition.name,
      eventsApplied: 0,
      eventsQuarantined: 0,
      lastBatchAt: null,
      lag: {},
    };
  }

  get topics(): string[] {
    return sourcesOf(this.options.definition).map((source) => `${this.options.topicPrefix}.${source}`);
  }

  /** Applies the target migrations; with plan (dry run) only checks that they could be read. */
  async prepare(): Promise<void> {
    const { definition, pool, kafka, topicPrefix, partitions, replicationFactor, logger } = this.options;
    await ensureTopics(
      kafka,
      [
        ...this.topics.map((topic) => ({ topic, partitions, config: CHANGE_TOPIC_CONFIG })),
        { topic: deadLetterTopic(topicPrefix, definition.name), partitions: 1, config: CHANGE_TOPIC_CONFIG },
      ],
      replicationFactor,
    );
    if (this.options.plan) return; // a dry run writes nothing, not even Tandem's own tables
    await ensureTandemSchema(pool);
    const applied = await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
    if (applied.length > 0)
      logger.info({ projection: definition.name, versions: applied }, 'applied target migrations');
  }

  async start(): Promise<void> {
    const { definition, kafka } = this.options;
    this.checkpoints = await this.loadCheckpoints();
    if (!this.options.plan) {
      this.producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await this.producer.connect();
    }
    // A dry run reads on its own: it must not take partitions from the running projector's group.
    const group = this.options.plan
      ? `tandem-dry-run.${this.options.topicPrefix}.${definition.name}.${randomUUID()}`
      : consumerGroupOf(this.options.topicPrefix, definition.name);
    this.consumer = new LogConsumer(kafka, group, this.topics, {
      deleteGroupOnStop: this.options.plan !== undefined,
    });
    await this.consumer.start(
      async (topic, partition) => {
        const checkpoint = (await this.loadCheckpoints()).get(partitionId(topic, partition));
        return checkpoint ? checkpoint.offset + 1n : this.consumer!.lowWatermark(topic, partition);
      },
      (batch) => this.handle(batch),
    );
  }

  private async loadCheckpoints(): Promise<Map<string, Checkpoint>> {
    const { pool, definition } = this.options;
    if (this.options.plan) {
      const { rows } = await pool.query(`SELECT to_regclass('tandem.checkpoints') IS NOT NULL AS present`);
      if (!rows[0].present) return new Map();
    }
    return loadCheckpoints(pool, definition.name);
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.producer?.disconnect();
  }

  private async handle(batch: PartitionBatch): Promise<void> {
    const { definition, topicPrefix } = this.options;
    const items: BatchItem[] = batch.records.map((record) => ({
      record,
      decoded: decodeRecord(definition, topicPrefix, record),
    }));
    const last = batch.records[batch.records.length - 1];
    this.statusValue.lag[partitionId(batch.topic, batch.partition)] = Number(
      batch.highWatermark - last.offset - 1n,
    );
    for (const chunk of chunkByTransaction(items, this.options.maxBatchEvents)) {
      if (this.options.plan) this.options.plan(chunk);
      else await this.applyChunk(batch.topic, batch.partition, chunk);
      await batch.heartbeat();
    }
    if (!this.options.plan && !this.deferredIndexesBuilt && this.caughtUp()) {
      const built = await buildDeferredIndexes(this.options.pool, this.options.definition);
      this.deferredIndexesBuilt = true;
      if (built.length > 0)
        this.options.logger.info(
          { projection: this.options.definition.name, indexes: built },
          'built deferred indexes',
        );
    }
  }

  /** Every partition read so far is at its end (a lag of 1 is the transaction marker after the last record). */
  private caughtUp(): boolean {
    return Object.values(this.statusValue.lag).every((lag) => lag <= 1);
  }

  private async applyChunk(topic: string, partition: number, items: BatchItem[]): Promise<void> {
    const { definition, pool, logger } = this.options;
    const previous = this.checkpoints.get(partitionId(topic, partition));
    let commitLsn = previous?.commitLsn ?? null;
    for (const item of items) {
      if (item.decoded.kind === 'apply' && (commitLsn === null || item.decoded.event.commitLsn > commitLsn))
        commitLsn = item.decoded.event.commitLsn;
    }
    const checkpoint: Checkpoint = {
      topic,
      partition,
      offset: items[items.length - 1].record.offset,
      commitLsn,
    };
    const started = process.hrtime.bigint();
    const result = await applyBatch(pool, definition, items, [checkpoint]);
    this.options.onBatchApplied?.({
      projection: definition.name,
      applied: result.applied,
      quarantined: result.quarantined.length,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    });
    this.checkpoints.set(partitionId(topic, partition), checkpoint);
    const forParent = result.quarantined.filter((entry) => waitsForParent(entry.reason)).length;
    await this.parentRetry.afterBatch(result.applied, forParent, this.caughtUp());
    this.statusValue.eventsApplied += result.applied;
    this.statusValue.eventsQuarantined += result.quarantined.length;
    this.statusValue.lastBatchAt = Date.now();
    if (result.quarantined.length > 0) {
      for (const entry of result.quarantined) {
        logger.warn(
          {
            projection: definition.name,
            topic: entry.record.topic,
            partition: entry.record.partition,
            offset: entry.record.offset.toString(),
            reason: entry.reason,
          },
          'event quarantined',
        );
      }
      await this.sendToDeadLetters(result.quarantined);
    }
  }

  private async sendToDeadLetters(entries: Quarantined[]): Promise<void> {
    const { topicPrefix, definition } = this.options;
    await this.producer!.send({
      topic: deadLetterTopic(topicPrefix, definition.name),
      acks: -1,
      messages: entries.map((entry) => ({
        key: entry.record.key,
        value: JSON.stringify({
          projection: definition.name,
          reason: entry.reason,
          topic: entry.record.topic,
          partition: entry.record.partition,
          offset: entry.record.offset.toString(),
          event: entry.value,
        }),
      })),
    });
  }
}

/** A source transaction is never split over two target transactions unless it alone exceeds ten chunks. */
const MAX_TRANSACTION_SPLIT = 10;

export function chunkByTransaction(items: BatchItem[], maxEvents: number): BatchItem[][] {
  const transactionOf = (item: BatchItem) =>
    item.decoded.kind === 'apply' ? item.decoded.event.transactionId : null;
  const chunks: BatchItem[][] = [];
  let start = 0;
  while (start < items.length) {
    let end = Math.min(start + maxEvents, items.length);
    const open = transactionOf(items[end - 1]);
    while (
      open !== null &&
      end < items.length &&
      end - start < maxEvents * MAX_TRANSACTION_SPLIT &&
      transactionOf(items[end]) === open
    )
      end++;
    chunks.push(items.slice(start, end));
    start = end;
  }
  return chunks;
}
