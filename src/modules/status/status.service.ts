import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { withoutConnectionStrings } from '../../shared/redact';
import { topicsOf } from '../../projections/framework/define-projection';
import { sourceTopic } from '../../contracts/names';
import { projectionDefinitions, resolveProjectionDefinitions } from '../projection/projection.service';
import type { PipelineStatus } from './pipeline-status';
import type { PipelineReading, StatusReaders, TopicOffsetsReader } from './status-readers';
import { PostgresSourceSlotReader, PostgresTandemStateReader } from './postgres-status-readers';
import { KafkaTopicOffsetsReader } from './kafka-offsets-reader';
import { FailbackLagReader } from '../failback/failback-lag';
import { failbackNames } from '../../contracts/failback-names';
import { TandemResources, sharedOrOwnResources } from '../core/tandem-resources';
import { StatusSampler, type StatusPoint } from './status-sampler';
import { DEFAULT_STATUS_OPTIONS, type StatusModelOptions } from './status-model';

export interface StatusServiceOptions extends Partial<StatusModelOptions> {
  /** How long samples are kept for rates and charts (default 15 minutes). */
  horizonMs?: number;
  /** How many of the newest quarantine reasons each projection shows (default 5). */
  newestReasons?: number;
}

/**
 * The readers of one status read over the process's pools and Kafka client (`topics`: the end offsets
 * reader, by default one admin connection kept between reads); shared by `tandem status` and the server.
 */
export function statusReaders(
  config: TandemConfig,
  resources: TandemResources,
  topics: TopicOffsetsReader = new KafkaTopicOffsetsReader(resources.kafkaFailFast),
): StatusReaders {
  return {
    source: new PostgresSourceSlotReader(resources.source),
    topics,
    state: config.target ? new PostgresTandemStateReader(resources.target) : null,
    failback: config.target
      ? new FailbackLagReader(
          { target: resources.target, legacy: resources.source },
          resources.kafkaFailFast,
          failbackNames(config.kafka.topicPrefix, config.source.slot, config.source.publication),
          (target) => resolveProjectionDefinitions(config, undefined, target, { dryRun: true }),
        )
      : undefined,
  };
}

/**
 * One read of the whole pipeline (PipelineStatus) for `tandem status`, the admin API, the status page
 * and /metrics. Every read is also kept as a sample, so a long-lived instance (the admin server)
 * reports rates over the last minutes and a history for charts; a one-shot caller reads twice
 * (readOver) to get rates at all.
 */
export class StatusService {
  private readonly sampler: StatusSampler;
  private readonly readers: StatusReaders;
  private timer: NodeJS.Timeout | null = null;
  /** The background read in progress (startSampling). */
  private sampling: Promise<void> | null = null;
  private readonly projections: Array<{ name: string; topics: string[] }>;
  private readonly closeOwn: () => Promise<void>;

  constructor(
    private readonly config: TandemConfig,
    private readonly logger: Logger,
    /** The process's connections (the application context) or readers of the caller's; without them, connections of its own. */
    readersOrResources?: StatusReaders | TandemResources,
    private readonly options: StatusServiceOptions = {},
  ) {
    const prefix = config.kafka.topicPrefix;
    this.projections = projectionDefinitions(config).map((definition) => ({
      name: definition.name,
      topics: topicsOf(definition, prefix),
    }));
    if (readersOrResources === undefined || readersOrResources instanceof TandemResources) {
      const { resources, closeOwn } = sharedOrOwnResources(readersOrResources, config, logger);
      this.readers = statusReaders(config, resources);
      this.closeOwn = closeOwn;
    } else {
      this.readers = readersOrResources;
      this.closeOwn = async () => undefined;
    }
    this.sampler = new StatusSampler(options.horizonMs, {
      ...DEFAULT_STATUS_OPTIONS,
      ...stripUndefined(options),
    });
  }

  /** Reads the pipeline now; rates are over the samples kept so far (null on the first read). */
  async read(): Promise<PipelineStatus> {
    return this.sampler.record(await this.gather());
  }

  /** Reads now and again after `windowMs` unless samples already span it, so rates are known. */
  async readOver(windowMs: number): Promise<PipelineStatus> {
    const first = await this.read();
    if (this.sampler.span() >= windowMs) return first;
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    return this.read();
  }

  /** The status of the newest read, without reading. */
  latest(): PipelineStatus | null {
    return this.sampler.latest();
  }

  /** Lag and throughput of every read kept, oldest first (for charts). */
  history(): StatusPoint[] {
    return this.sampler.history();
  }

  /** Reads every `intervalMs` in the background until close(); a failed read is logged and the next one tried. */
  startSampling(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.sampling) return;
      this.sampling = this.read()
        .then(() => undefined, (error: Error) => this.logger.warn({ err: error }, 'status read failed'))
        .finally(() => (this.sampling = null));
    }, intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and waits for a read in progress: the pools it reads through close after this. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sampling;
    await this.readers.topics.close();
    await this.closeOwn();
  }

  private async gather(): Promise<PipelineReading> {
    const { source, topics, state } = this.readers;
    const names = this.projections.map((p) => p.name);
    const newest = this.options.newestReasons ?? 5;
    const at = new Date();
    const captureTopics = this.config.source.tables.map((table) => sourceTopic(this.config.kafka.topicPrefix, table));
    // Kafka down is one of the things status is for: everything else is still read and shown.
    const ends = await topics
      .endOffsets([...new Set([...captureTopics, ...this.projections.flatMap((p) => p.topics)])])
      .then(
        (all) => ({ all, kafka: { reachable: true, error: null } }),
        (error: unknown) => ({ all: null, kafka: { reachable: false, error: describeKafkaError(error) } }),
      );
    const endsOf = (names: string[]) => ends.all?.filter((end) => names.includes(end.topic)) ?? null;
    const [slot, projections, reconciliations, cutover, backfills, failback] = await Promise.all([
      source.readSlot(this.config.source.slot, this.config.source.publication),
      Promise.all(
        this.projections.map(async (projection) => ({
          name: projection.name,
          ends: endsOf(projection.topics),
          checkpoints: state ? await state.checkpoints(projection.name) : [],
          quarantine: state ? await state.quarantine(projection.name, newest) : { count: 0, newest: [] },
        })),
      ),
      state ? state.lastReconciliations(names) : Promise.resolve([]),
      state ? state.latestCutover() : Promise.resolve(null),
      source.readBackfills ? source.readBackfills(this.config.source.signalTable, this.config.source.slot) : Promise.resolve([]),
      // failback lag needs Kafka too: unknown (null) while it is unreachable
      this.readers.failback && ends.kafka.reachable ? this.readers.failback.read() : Promise.resolve(null),
    ]);
    return { at, slot, captureTopics: endsOf(captureTopics) ?? [], kafka: ends.kafka, projections, reconciliations, cutover, backfills, failback };
  }
}

function describeKafkaError(error: unknown): string {
  return withoutConnectionStrings((error as Error)?.message ?? String(error));
}

function stripUndefined(options: StatusServiceOptions): Partial<StatusModelOptions> {
  const result: Partial<StatusModelOptions> = {};
  if (options.rateWindowMs !== undefined) result.rateWindowMs = options.rateWindowMs;
  if (options.stallAfterMs !== undefined) result.stallAfterMs = options.stallAfterMs;
  return result;
}
