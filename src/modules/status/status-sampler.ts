import type { PipelineStatus } from './pipeline-status';
import type { PipelineReading } from './status-readers';
import {
  buildStatus,
  DEFAULT_STATUS_OPTIONS,
  sampleOf,
  type StatusModelOptions,
  type StatusSample,
} from './status-model';

/** One point of the lag and throughput series a chart draws. */
export interface StatusPoint {
  at: string;
  source: Array<{
    slot: string;
    lagBytes: number | null;
    lagSeconds: number | null;
    eventsPerSecond: number | null;
  }>;
  projections: Array<{
    projection: string;
    lagEvents: number | null;
    lagSeconds: number | null;
    eventsPerSecond: number | null;
  }>;
}

/**
 * Keeps the samples of successive status reads for `horizonMs`, so that rates and the source lag in
 * seconds come from the last minutes rather than from one read, and a chart has its series.
 */
export class StatusSampler {
  private samples: StatusSample[] = [];
  private points: StatusPoint[] = [];
  private last: PipelineStatus | null = null;

  constructor(
    private readonly horizonMs = 15 * 60_000,
    private readonly options: StatusModelOptions = DEFAULT_STATUS_OPTIONS,
  ) {}

  record(reading: PipelineReading): PipelineStatus {
    const sample = sampleOf(reading);
    const oldest = sample.at - this.horizonMs;
    this.samples = [...this.samples.filter((s) => s.at >= oldest && s.at < sample.at), sample];
    const status = buildStatus(reading, this.samples, this.options);
    this.points = [...this.points.filter((p) => Date.parse(p.at) >= oldest), pointOf(status)];
    this.last = status;
    return status;
  }

  /** Oldest first, over the horizon. */
  history(): StatusPoint[] {
    return [...this.points];
  }

  latest(): PipelineStatus | null {
    return this.last;
  }

  /** Milliseconds covered by the samples kept (0 with one sample or none). */
  span(): number {
    return this.samples.length < 2 ? 0 : this.samples[this.samples.length - 1].at - this.samples[0].at;
  }
}

function pointOf(status: PipelineStatus): StatusPoint {
  return {
    at: status.readAt,
    source: status.source.map(({ slot, lagBytes, lagSeconds, eventsPerSecond }) => ({
      slot,
      lagBytes,
      lagSeconds,
      eventsPerSecond,
    })),
    projections: status.projections.map(({ projection, lagEvents, lagSeconds, eventsPerSecond }) => ({
      projection,
      lagEvents,
      lagSeconds,
      eventsPerSecond,
    })),
  };
}
