import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from '../../shared/logger';
import { LogConsumer, type PartitionBatch } from '../../connectors/kafka/log-consumer';
import { CHANGE_TOPIC_CONFIG, ensureTopics } from '../../connectors/kafka/topic-admin';
import { loadCheckpoints, partitionId, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../connectors/postgres-target/migrations';
import { decodeRecord } from './event-decoder';
import { applyBatch, type BatchItem, type Quarantined } from './batch-applier';
import { sourcesOf, type ProjectionDefinition } from './define-projection';

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
export const consumerGroupOf = (prefix: string, projection: string) => `tandem-projection.${prefix}.${projection}`;
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
  readonly statusValue: ProjectionStatus;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.statusValue = { projection: options.definition.name, eventsApplied: 0, eventsQuarantined: 0, lastBatchAt: null, lag: {} };
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
    await ensureTandemSchema(pool);
    if (this.options.plan) return;
    const applied = await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
    if (applied.length > 0) logger.info({ projection: definition.name, versions: applied }, 'applied target migrations');
  }

  async start(): Promise<void> {
    const { definition, kafka, pool } = this.options;
    this.checkpoints = await loadCheckpoints(pool, definition.name);
    if (!this.options.plan) {
      this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await this.producer.connect();
    }
    this.consumer = new LogConsumer(kafka, consumerGroupOf(this.options.topicPrefix, definition.name), this.topics);
    await this.consumer.start(
      async (topic, partition) => {
        const checkpoint = (await loadCheckpoints(pool, definition.name)).get(partitionId(topic, partition));
        return checkpoint ? checkpoint.offset + 1n : this.consumer!.lowWatermark(topic, partition);
      },
      async (batch) => {
        for (let start = 0; start < batch.records.length; start += this.options.maxBatchEvents) {
          await this.handle({ ...batch, records: batch.records.slice(start, start + this.options.maxBatchEvents) });
        }
      },
    );
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.producer?.disconnect();
  }

  private async handle(batch: PartitionBatch): Promise<void> {
    const { definition, topicPrefix, pool, logger } = this.options;
    const items: BatchItem[] = batch.records.map((record) => ({ record, decoded: decodeRecord(definition, topicPrefix, record) }));
    const last = batch.records[batch.records.length - 1];
    this.statusValue.lag[partitionId(batch.topic, batch.partition)] = Number(batch.highWatermark - last.offset - 1n);
    if (this.options.plan) {
      this.options.plan(items);
      return;
    }
    const previous = this.checkpoints.get(partitionId(batch.topic, batch.partition));
    let commitLsn = previous?.commitLsn ?? null;
    for (const item of items) {
      if (item.decoded.kind === 'apply' && (commitLsn === null || item.decoded.event.commitLsn > commitLsn)) commitLsn = item.decoded.event.commitLsn;
    }
    const checkpoint: Checkpoint = { topic: batch.topic, partition: batch.partition, offset: last.offset, commitLsn };
    const result = await applyBatch(pool, definition, items, [checkpoint]);
    this.checkpoints.set(partitionId(batch.topic, batch.partition), checkpoint);
    this.statusValue.eventsApplied += result.applied;
    this.statusValue.eventsQuarantined += result.quarantined.length;
    this.statusValue.lastBatchAt = Date.now();
    if (result.quarantined.length > 0) {
      for (const entry of result.quarantined) {
        logger.warn({ projection: definition.name, topic: entry.record.topic, partition: entry.record.partition, offset: entry.record.offset.toString(), reason: entry.reason }, 'event quarantined');
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
