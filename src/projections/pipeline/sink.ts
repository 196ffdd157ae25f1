import type { BatchItem, PlannedStatements, Quarantined } from '../framework/batch-applier';
import type { TimeSlicer } from './time-slicer';

/** What a sink did with one chunk. */
export interface ChunkResult {
  /** Events applied (or, for a plan, that would be). */
  applied: number;
  /** Events rejected, with their reasons (sensitive fields left out). */
  quarantined: Quarantined[];
}

/**
 * Where a chunk of decoded records goes: the live target (live-sink.ts), a plan that writes nothing
 * (plan-sink.ts), or a replay's shadow schema (shadow-sink.ts).
 */
export interface ProjectionSink {
  /** `planned`: what planAhead returned for this chunk. */
  write(chunk: BatchItem[], planned?: PlannedStatements): Promise<ChunkResult>;
  /** Plans a chunk's statements while the chunk before it is written, pausing on `slicer` (batch-applier.ts). */
  planAhead?(chunk: BatchItem[], slicer: TimeSlicer): Promise<PlannedStatements>;
}

/** A sink a consumer-group reader (projection-runner.ts) runs: it also decides where reading starts. */
export interface RunnerSink extends ProjectionSink {
  /** The consumer group to read as; a group that is someone else's must be deleted when reading stops. */
  readonly group: { id: string; deleteOnStop: boolean };
  /** Before reading: what the sink needs in the target (migrations). */
  prepare(): Promise<void>;
  open(): Promise<void>;
  close(): Promise<void>;
  /**
   * The offset to read a partition from when it is assigned (null: its low watermark). `readUpTo` is
   * the last offset this reader was handed on that partition, if any.
   */
  startOffset(partition: string, readUpTo: bigint | undefined): Promise<bigint | null>;
  /** After each batch read; `caughtUp`: every partition this reader read so far is at its end. */
  afterBatch(caughtUp: boolean): Promise<void>;
}
