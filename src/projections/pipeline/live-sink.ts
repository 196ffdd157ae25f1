import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from '../../shared/logger';
import {
  loadCheckpoints,
  partitionId,
  type Checkpoint,
} from '../../connectors/postgres-target/checkpoint-store';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { applyMigrations } from '../../connectors/postgres-target/migrations';
import { positionKey, readRecordsAt } from '../../connectors/kafka/record-reader';
import { projectionGroup } from '../../contracts/names';
import { applyBatch, planAhead, type BatchItem, type PlannedStatements } from '../framework/batch-applier';
import { topicsOf, type ProjectionDefinition } from '../framework/define-projection';
import { buildDeferredIndexes } from '../framework/deferred-indexes';
import { retryWaiting, type WaitingValues } from '../framework/ordering-wait';
import { WaitingParents } from '../framework/waiting-parents';
import { everyPartitionCaughtUp } from './caught-up';
import { DeadLetterProducer } from './dead-letters';
import type { ChunkResult, RunnerSink } from './sink';
import type { TimeSlicer } from './time-slicer';

export interface AppliedBatch {
  projection: string;
  applied: number;
  quarantined: number;
  /** Time of the target transaction (rows, quarantine and checkpoint). */
  seconds: number;
}

export interface LiveSinkOptions {
  definition: ProjectionDefinition<unknown>;
  topicPrefix: string;
  /** How long an event set aside for a row it refers to waits before it is quarantined (retryOrderingConflicts). */
  orderingWaitMs?: number;
  kafka: Kafka;
  pool: Pool;
  logger: Logger;
  /** Called after each applied batch (metrics). */
  onBatchApplied?: (batch: AppliedBatch) => void;
}

/**
 * The live target: each chunk in one target transaction with its rows, quarantined and waiting
 * events and the partition's checkpoint (offset and commit LSN); rejected events also go to the
 * dead-letter topic. Reads as the projection's consumer group, from its checkpoints.
 */
export class LiveSink implements RunnerSink {
  readonly group: { id: string; deleteOnStop: boolean };
  private checkpoints = new Map<string, Checkpoint>();
  private deferredIndexesBuilt = false;
  private readonly deadLetters: DeadLetterProducer;
  /** Waiting events' whole values (quarantine holds them without their sensitive fields). */
  private readonly waitingValues: WaitingValues;

  constructor(private readonly options: LiveSinkOptions) {
    const { definition, topicPrefix, kafka } = options;
    this.group = { id: projectionGroup(topicPrefix, definition.name), deleteOnStop: false };
    this.deadLetters = new DeadLetterProducer(kafka, topicPrefix, definition.name);
    this.waitingValues = { known: new Map(), reread: (positions) => readRecordsAt(kafka, positions), parents: new WaitingParents() };
  }

  async prepare(): Promise<void> {
    const { definition, pool, logger } = this.options;
    await ensureTandemSchema(pool);
    const applied = await applyMigrations(pool, definition.name, definition.schema, definition.migrations);
    if (applied.length > 0)
      logger.info({ projection: definition.name, versions: applied }, 'applied target migrations');
  }

  async open(): Promise<void> {
    this.checkpoints = await loadCheckpoints(this.options.pool, this.options.definition.name);
    await this.deadLetters.open();
  }

  async close(): Promise<void> {
    await this.deadLetters.close();
  }

  async startOffset(partition: string): Promise<bigint | null> {
    const checkpoint = (await loadCheckpoints(this.options.pool, this.options.definition.name)).get(partition);
    return checkpoint ? checkpoint.offset + 1n : null;
  }

  planAhead(items: BatchItem[], slicer: TimeSlicer): Promise<PlannedStatements> {
    return planAhead(this.options.definition, items, slicer);
  }

  async write(items: BatchItem[], planned: PlannedStatements = null): Promise<ChunkResult> {
    const { definition, pool, logger } = this.options;
    const last = items[items.length - 1].record;
    const checkpoint = this.checkpointAfter(last.topic, last.partition, items);
    const started = process.hrtime.bigint();
    const result = await applyBatch(pool, definition, items, [checkpoint], undefined, planned);
    this.options.onBatchApplied?.({
      projection: definition.name,
      applied: result.applied,
      quarantined: result.quarantined.length,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    });
    this.checkpoints.set(partitionId(last.topic, last.partition), checkpoint);
    for (const entry of result.waiting) {
      this.waitingValues.known.set(positionKey(entry.record), entry.record.value);
      if (entry.refusal) await this.waitingValues.parents.learn(pool, definition.schema, positionKey(entry.record), entry.refusal);
    }
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
      await this.deadLetters.send(result.quarantined);
    }
    return { applied: result.applied, quarantined: result.quarantined };
  }

  /** The partition's checkpoint once the chunk is applied: its last offset, the highest commit LSN so far. */
  private checkpointAfter(topic: string, partition: number, items: BatchItem[]): Checkpoint {
    let commitLsn = this.checkpoints.get(partitionId(topic, partition))?.commitLsn ?? null;
    for (const item of items) {
      if (item.decoded.kind === 'apply' && (commitLsn === null || item.decoded.event.commitLsn > commitLsn))
        commitLsn = item.decoded.event.commitLsn;
    }
    return { topic, partition, offset: items[items.length - 1].record.offset, commitLsn };
  }

  async afterBatch(caughtUp: boolean): Promise<void> {
    const { definition, pool, kafka, topicPrefix, logger } = this.options;
    if (this.deferredIndexesBuilt || !caughtUp) return;
    const checkpoints = await loadCheckpoints(pool, definition.name);
    if (!(await everyPartitionCaughtUp(kafka, topicsOf(definition, topicPrefix), checkpoints))) return;
    const built = await buildDeferredIndexes(pool, definition);
    this.deferredIndexesBuilt = true;
    if (built.length > 0) logger.info({ projection: definition.name, indexes: built }, 'built deferred indexes');
  }
}
