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
import { MAX_CHUNK_BYTES, writeInChunks } from './chunk-pipeline';
import { applyBatch, type BatchItem, type Quarantined } from './batch-applier';
import { topicsOf, type ProjectionDefinition } from './define-projection';
import { deadLetterTopic, dryRunGroup, projectionGroup } from '../../contracts/names';
import { coversEnd } from '../../contracts/positions';
import { buildDeferredIndexes } from './deferred-indexes';
import { retryWaiting, type WaitingValues } from './ordering-wait';
import { positionKey, readRecordsAt } from '../../connectors/kafka/record-reader';

export interface ProjectionRunnerOptions {
  definition: ProjectionDefinition<unknown>;
  topicPrefix: string;
  partitions: number;
  replicationFactor: number;
  /** Events per target transaction at most. */
  maxBatchEvents: number;
  /** How long an event set aside for a row it refers to waits before it is quarantined (retryOrderingConflicts). */
  orderingWaitMs?: number;
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
  /** Per partition: the last offset handed to this runner and the partition's end when it was read. */
  private readonly readUpTo = new Map<string, { offset: bigint; end: bigint }>();
  /** Waiting events' whole values (quarantine holds them without their sensitive fields). */
  private readonly waitingValues: WaitingValues = { known: new Map(), reread: (positions) => readRecordsAt(this.options.kafka, positions) };
  readonly statusValue: ProjectionStatus;

  constructor(private readonly options: ProjectionRunnerOptions) {
    this.statusValue = {
      projection: options.definition.name,
      eventsApplied: 0,
      eventsQuarantined: 0,
      lastBatchAt: null,
      lag: {},
    };
  }

  get topics(): string[] {
    return topicsOf(this.options.definition, this.options.topicPrefix);
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
      ? dryRunGroup(this.options.topicPrefix, definition.name, randomUUID())
      : projectionGroup(this.options.topicPrefix, definition.name);
    this.consumer = new LogConsumer(kafka, group, this.topics, {
      deleteGroupOnStop: this.options.plan !== undefined,
    });
    await this.consumer.start(
      async (topic, partition) => {
        // A dry run's checkpoints never move: after a rejoin of its group it goes on after what it
        // planned already, instead of planning (and counting) those records again.
        const planned = this.options.plan ? this.readUpTo.get(partitionId(topic, partition)) : undefined;
        if (planned) return planned.offset + 1n;
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
    const last = batch.records[batch.records.length - 1];
    const partition = partitionId(batch.topic, batch.partition);
    this.statusValue.lag[partition] = Number(batch.highWatermark - last.offset - 1n);
    this.readUpTo.set(partition, { offset: last.offset, end: batch.highWatermark });
    await writeInChunks(
      batch.records,
      (record) => ({ record, decoded: decodeRecord(definition, topicPrefix, record) }),
      { maxEvents: this.options.maxBatchEvents, maxBytes: MAX_CHUNK_BYTES },
      async (chunk) => {
        if (this.options.plan) this.options.plan(chunk);
        else await this.applyChunk(batch.topic, batch.partition, chunk);
        await batch.heartbeat();
      },
    );
    if (!this.options.plan && !this.deferredIndexesBuilt && this.caughtUp() && (await this.everyPartitionCaughtUp())) {
      const built = await buildDeferredIndexes(this.options.pool, this.options.definition);
      this.deferredIndexesBuilt = true;
      if (built.length > 0)
        this.options.logger.info(
          { projection: this.options.definition.name, indexes: built },
          'built deferred indexes',
        );
    }
  }

  /**
   * Every partition of every source topic is applied to its end, whichever member applied it (by the
   * checkpoints in the target): partitions this member has not read yet count too, so deferred
   * indexes and a mirror's foreign keys are not built while another table is still loading.
   */
  private async everyPartitionCaughtUp(): Promise<boolean> {
    const checkpoints = await this.loadCheckpoints();
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      for (const topic of this.topics) {
        for (const offsets of await admin.fetchTopicOffsets(topic)) {
          const [low, high] = [BigInt(offsets.low), BigInt(offsets.high)];
          if (high === low) continue;
          const applied = checkpoints.get(partitionId(topic, offsets.partition))?.offset ?? low - 1n;
          if (!coversEnd(applied, high)) return false;
        }
      }
      return true;
    } finally {
      await admin.disconnect();
    }
  }

  /** Every partition read so far is at its end (contracts/positions.ts). */
  private caughtUp(): boolean {
    return [...this.readUpTo.values()].every(({ offset, end }) => coversEnd(offset, end));
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
    this.statusValue.eventsApplied += result.applied;
    this.statusValue.eventsQuarantined += result.quarantined.length;
    this.statusValue.lastBatchAt = Date.now();
    for (const entry of result.waiting) this.waitingValues.known.set(positionKey(entry.record), entry.record.value);
    if (result.waiting.length > 0)
      logger.info({ projection: definition.name, events: result.waiting.length }, 'events wait for rows they refer to (retried after each batch)');
    if (definition.retryOrderingConflicts) {
      const retried = await retryWaiting(pool, definition, this.options.topicPrefix, this.options.orderingWaitMs ?? 600_000, this.waitingValues);
      if (retried.gaveUp > 0) logger.warn({ projection: definition.name, events: retried.gaveUp }, 'events quarantined after waiting for rows they refer to');
    }
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

export { chunkByTransaction } from './chunk-pipeline';
