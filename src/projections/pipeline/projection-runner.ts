import type { Kafka } from 'kafkajs';
import { LogConsumer, type PartitionBatch } from '../../connectors/kafka/log-consumer';
import { CHANGE_TOPIC_CONFIG, ensureTopics } from '../../connectors/kafka/topic-admin';
import { partitionId } from '../../connectors/postgres-target/checkpoint-store';
import { deadLetterTopic } from '../../contracts/names';
import { coversEnd } from '../../contracts/positions';
import { topicsOf, type ProjectionDefinition } from '../framework/define-projection';
import { runPipeline } from './pipeline';
import type { RunnerSink } from './sink';

export interface ProjectionRunnerOptions {
  definition: ProjectionDefinition<unknown>;
  topicPrefix: string;
  partitions: number;
  replicationFactor: number;
  /** Events per target transaction at most. */
  maxBatchEvents: number;
  kafka: Kafka;
  /** The live target (live-sink.ts) or, in --dry-run, the plan (plan-sink.ts). */
  sink: RunnerSink;
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
 * Runs one projection: a consumer-group member that reads its source topics and puts each batch
 * through the pipeline (decode → chunk → sink). Where it starts reading and what a chunk does are
 * the sink's: the live sink applies each chunk in one target transaction (rows + quarantine +
 * checkpoint), the plan sink of a dry run writes nothing.
 */
export class ProjectionRunner {
  private consumer: LogConsumer | null = null;
  /** Per partition: the last offset handed to this runner and the partition's end when it was read. */
  private readonly readUpTo = new Map<string, { offset: bigint; end: bigint }>();
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

  /** Creates the topics it reads and writes, then whatever the sink needs (the live target's migrations). */
  async prepare(): Promise<void> {
    const { definition, kafka, topicPrefix, partitions, replicationFactor } = this.options;
    await ensureTopics(
      kafka,
      [
        ...this.topics.map((topic) => ({ topic, partitions, config: CHANGE_TOPIC_CONFIG })),
        { topic: deadLetterTopic(topicPrefix, definition.name), partitions: 1, config: CHANGE_TOPIC_CONFIG },
      ],
      replicationFactor,
    );
    await this.options.sink.prepare();
  }

  async start(): Promise<void> {
    const { kafka, sink } = this.options;
    await sink.open();
    this.consumer = new LogConsumer(kafka, sink.group.id, this.topics, { deleteGroupOnStop: sink.group.deleteOnStop });
    await this.consumer.start(
      async (topic, partition) => {
        const id = partitionId(topic, partition);
        const from = await sink.startOffset(id, this.readUpTo.get(id)?.offset);
        return from ?? this.consumer!.lowWatermark(topic, partition);
      },
      (batch) => this.handle(batch),
    );
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.options.sink.close();
  }

  private async handle(batch: PartitionBatch): Promise<void> {
    const { definition, topicPrefix, maxBatchEvents, sink } = this.options;
    const last = batch.records[batch.records.length - 1];
    const partition = partitionId(batch.topic, batch.partition);
    this.statusValue.lag[partition] = Number(batch.highWatermark - last.offset - 1n);
    this.readUpTo.set(partition, { offset: last.offset, end: batch.highWatermark });
    await runPipeline({ definition, topicPrefix, maxBatchEvents, sink }, batch.records, async (result) => {
      this.statusValue.eventsApplied += result.applied;
      this.statusValue.eventsQuarantined += result.quarantined.length;
      this.statusValue.lastBatchAt = Date.now();
      await batch.heartbeat();
    });
    await sink.afterBatch(this.caughtUp());
  }

  /** Every partition read so far is at its end (contracts/positions.ts). */
  caughtUp(): boolean {
    return [...this.readUpTo.values()].every(({ offset, end }) => coversEnd(offset, end));
  }
}
