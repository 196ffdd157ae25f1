import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Logger } from '../../shared/logger';
import { TANDEM_LOGGER } from '../config/config.module';
import type { PipelineStatus } from './pipeline-status';

/** Where the admin API, the status page and /metrics read the pipeline's state (StatusService). */
export interface StatusReader {
  read(): Promise<PipelineStatus>;
}
export const STATUS_READER = Symbol('STATUS_READER');
export const SAMPLE_INTERVAL_MS = Symbol('SAMPLE_INTERVAL_MS');

/** One point of the status page's charts. */
export interface StatusSample {
  at: string;
  /** Largest source slot lag in bytes (null: no slot). */
  sourceLagBytes: number | null;
  /** Events per second written to the change topics. */
  captureEventsPerSecond: number | null;
  projections: Record<string, { lagEvents: number | null; eventsPerSecond: number | null }>;
}

const HISTORY_MS = 10 * 60_000;

/**
 * Reads the status every interval into a ring buffer (10 minutes) and serves the newest read to every
 * caller within one interval, so that several pages and a Prometheus scrape cost one read.
 */
@Injectable()
export class StatusSampler implements OnModuleInit, OnModuleDestroy {
  private readonly capacity: number;
  private readonly samples: StatusSample[] = [];
  private latest: { status: PipelineStatus; at: number } | null = null;
  private inFlight: Promise<PipelineStatus> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(STATUS_READER) private readonly reader: StatusReader,
    @Inject(SAMPLE_INTERVAL_MS) private readonly intervalMs: number,
    @Inject(TANDEM_LOGGER) private readonly logger: Logger,
  ) {
    this.capacity = Math.max(1, Math.ceil(HISTORY_MS / intervalMs));
  }

  onModuleInit(): void {
    const tick = () =>
      this.refresh().catch((error) => this.logger.warn({ err: error }, 'status sample failed'));
    void tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and waits for a read in progress (the shared pools close after the server). */
  async onModuleDestroy(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight?.catch(() => undefined);
  }

  history(): StatusSample[] {
    return [...this.samples];
  }

  /** The newest status, read now if the last read is older than one interval. */
  async current(): Promise<PipelineStatus> {
    if (this.latest && Date.now() - this.latest.at < this.intervalMs) return this.latest.status;
    return this.refresh();
  }

  private refresh(): Promise<PipelineStatus> {
    this.inFlight ??= this.reader
      .read()
      .then((status) => {
        this.record(status, this.latest);
        this.latest = { status, at: Date.now() };
        return status;
      })
      .finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private record(status: PipelineStatus, previous: { status: PipelineStatus; at: number } | null): void {
    const seconds = previous ? (Date.now() - previous.at) / 1000 : 0;
    const rate = (now: number, before: number | undefined) =>
      before === undefined || seconds <= 0 ? null : Math.max(0, (now - before) / seconds);
    const lags = status.source.map((slot) => slot.lagBytes).filter((lag): lag is number => lag !== null);
    const captured = status.source
      .map((slot) => slot.eventsPerSecond)
      .filter((rate): rate is number => rate !== null);
    const projections: StatusSample['projections'] = {};
    for (const projection of status.projections) {
      const before = previous?.status.projections.find((p) => p.projection === projection.projection);
      projections[projection.projection] = {
        lagEvents: projection.lagEvents,
        eventsPerSecond:
          projection.eventsPerSecond ?? rate(appliedOffsets(projection), before && appliedOffsets(before)),
      };
    }
    this.samples.push({
      at: status.readAt,
      sourceLagBytes: lags.length ? Math.max(...lags) : null,
      captureEventsPerSecond: captured.length
        ? captured.reduce((a, b) => a + b, 0)
        : rate(topicEnds(status), previous ? topicEnds(previous.status) : undefined),
      projections,
    });
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }
}

const appliedOffsets = (projection: PipelineStatus['projections'][number]) =>
  projection.partitions.reduce((sum, p) => sum + p.offset, 0);

/** Sum of the end offsets of every change-topic partition some projection reads. */
function topicEnds(status: PipelineStatus): number {
  const ends = new Map<string, number>();
  for (const projection of status.projections)
    for (const p of projection.partitions) if (p.endOffset !== null) ends.set(`${p.topic}#${p.partition}`, p.endOffset);
  return [...ends.values()].reduce((a, b) => a + b, 0);
}
