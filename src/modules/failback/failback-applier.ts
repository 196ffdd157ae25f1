import { Partitioners, type Kafka, type Producer } from '../../connectors/kafka/kafkajs';
import { Client, type Pool } from 'pg';
import type { Logger } from '../../shared/logger';
import { LogConsumer, type PartitionBatch } from '../../connectors/kafka/log-consumer';
import { CHANGE_TOPIC_CONFIG, ensureTopics } from '../../connectors/kafka/topic-admin';
import { loadCheckpoints, partitionId, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { ensureFailbackSchema } from '../../connectors/postgres-legacy/failback-schema';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import type { failbackNames } from '../../contracts/failback-names';
import { decodeTargetChange, type FailbackItem } from './failback-decoder';
import { applyFailbackBatch, type FailbackRejected } from './failback-batch';
import { failbackUnits } from './failback-units';

export interface FailbackApplierOptions {
  definition: ProjectionDefinition<unknown>;
  names: ReturnType<typeof failbackNames>;
  /** The failback topics of the projection's inverse tables. */
  topics: string[];
  partitions: number;
  replicationFactor: number;
  maxBatchEvents: number;
  kafka: Kafka;
  /** Failback's own legacy session (marked with its replication origin), opened by start(). */
  legacyUrl: string;
  /** Reads checkpoints while the legacy session may be inside a batch's transaction (the process's source pool). */
  legacyReads: Pool;
  /** Read by render inverses. */
  target: Pool;
  logger: Logger;
}

export interface FailbackApplierStatus {
  projection: string;
  eventsApplied: number;
  eventsQuarantined: number;
  lastBatchAt: number | null;
  /** Target commit time of the last change applied to the legacy database. */
  lastAppliedCommitTimeMs: number | null;
  /** Per topic-partition: records in Kafka not applied yet. */
  lag: Record<string, number>;
}

/**
 * Applies one projection's failback topics to the legacy database through its inverse: a
 * consumer-group member reading from its checkpoints in the legacy database (tandem.checkpoints,
 * `failback.<projection>`), each batch one legacy transaction (rows + quarantine + checkpoint) in
 * a session marked with failback's replication origin, which forward capture skips.
 */
export class FailbackApplier {
  private consumer: LogConsumer | null = null;
  private producer: Producer | null = null;
  private legacy: Client | null = null;
  private readonly checkpoints = new Map<string, Checkpoint>();
  readonly statusValue: FailbackApplierStatus;

  constructor(private readonly options: FailbackApplierOptions) {
    this.statusValue = { projection: options.definition.name, eventsApplied: 0, eventsQuarantined: 0, lastBatchAt: null, lastAppliedCommitTimeMs: null, lag: {} };
  }

  private get checkpointName(): string {
    return this.options.names.checkpointName(this.options.definition.name);
  }

  async start(): Promise<void> {
    const { kafka, names, definition, topics, partitions, replicationFactor, logger } = this.options;
    await ensureTopics(
      kafka,
      [...topics.map((topic) => ({ topic, partitions, config: CHANGE_TOPIC_CONFIG })), { topic: names.deadLetterTopic(definition.name), partitions: 1, config: CHANGE_TOPIC_CONFIG }],
      replicationFactor,
    );
    this.legacy = new Client({ connectionString: this.options.legacyUrl, application_name: 'tandem-failback' });
    this.legacy.on('error', (error) => logger.warn({ err: error }, 'the legacy connection of failback failed'));
    await this.legacy.connect();
    const origin = names.origin(definition.name);
    await ensureFailbackSchema(this.legacy, origin);
    await this.legacy.query('SELECT pg_replication_origin_session_setup($1)', [origin]);
    for (const [id, checkpoint] of await loadCheckpoints(this.legacy, this.checkpointName)) this.checkpoints.set(id, checkpoint);
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    this.consumer = new LogConsumer(kafka, names.consumerGroup(definition.name), topics);
    await this.consumer.start(
      async (topic, partition) => {
        const checkpoint = (await loadCheckpoints(this.options.legacyReads, this.checkpointName)).get(partitionId(topic, partition));
        return checkpoint ? checkpoint.offset + 1n : this.consumer!.lowWatermark(topic, partition);
      },
      (batch) => this.handle(batch),
    );
    logger.info({ projection: definition.name, topics }, 'failback applier running');
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.producer?.disconnect();
    await this.legacy?.end().catch(() => undefined);
  }

  private async handle(batch: PartitionBatch): Promise<void> {
    const { definition, maxBatchEvents } = this.options;
    const items: FailbackItem[] = batch.records.map((record) => ({ record, decoded: decodeTargetChange(definition, record) }));
    for (let start = 0; start < items.length; start += maxBatchEvents) {
      await this.applyChunk(batch.topic, batch.partition, items.slice(start, start + maxBatchEvents));
      await batch.heartbeat();
    }
    const last = batch.records[batch.records.length - 1];
    this.statusValue.lag[partitionId(batch.topic, batch.partition)] = Number(batch.highWatermark - last.offset - 1n);
  }

  private async applyChunk(topic: string, partition: number, items: FailbackItem[]): Promise<void> {
    const { definition, target, logger } = this.options;
    const units = await failbackUnits(definition, target, items);
    const previous = this.checkpoints.get(partitionId(topic, partition));
    let commitLsn = previous?.commitLsn ?? null;
    for (const item of items) {
      if (item.decoded.kind === 'change' && (commitLsn === null || item.decoded.change.commitLsn > commitLsn)) commitLsn = item.decoded.change.commitLsn;
    }
    const checkpoint: Checkpoint = { topic, partition, offset: items[items.length - 1].record.offset, commitLsn };
    const result = await applyFailbackBatch(this.legacy!, this.checkpointName, units, checkpoint);
    this.checkpoints.set(partitionId(topic, partition), checkpoint);
    this.statusValue.eventsApplied += result.applied;
    this.statusValue.eventsQuarantined += result.quarantined.length;
    this.statusValue.lastBatchAt = Date.now();
    for (const item of items) {
      if (item.decoded.kind === 'change') this.statusValue.lastAppliedCommitTimeMs = Math.max(this.statusValue.lastAppliedCommitTimeMs ?? 0, item.decoded.change.commitTimeMs);
    }
    if (result.quarantined.length === 0) return;
    for (const entry of result.quarantined) {
      logger.warn({ projection: definition.name, topic: entry.record.topic, partition: entry.record.partition, offset: entry.record.offset.toString(), reason: entry.reason }, 'failback change quarantined');
    }
    await this.sendToDeadLetters(result.quarantined);
  }

  private async sendToDeadLetters(entries: FailbackRejected[]): Promise<void> {
    const { names, definition } = this.options;
    await this.producer!.send({
      topic: names.deadLetterTopic(definition.name),
      acks: -1,
      messages: entries.map((entry) => ({
        key: entry.record.key,
        value: JSON.stringify({
          projection: definition.name,
          direction: 'failback',
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
