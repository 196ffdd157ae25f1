/**
 * Where things sit in the log, and when a reader has caught up with it. Tandem's topics are written
 * by transactional producers, so a partition's end offset follows a commit marker: the last data
 * record can be end − 2, and a checkpoint there has applied everything (markers are never delivered).
 */

/** Where an event sits in the log: what checkpoints, quarantine rows and id_map entries refer to. */
export interface LogPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

/** A record as read from Kafka, before a projection looks at it. */
export interface LogRecord extends LogPosition {
  key: string | null;
  value: string | null;
}

/** A record to produce: a change event, a tombstone (value null) or a marker; `partition` pins it (e.g. a TRUNCATE on every partition). */
export interface ProducedRecord {
  topic: string;
  key: string | null;
  value: string | null;
  partition?: number;
}

/** Where records are appended as they are made: an array, or a buffer they are encoded into at once. */
export interface RecordSink {
  push(record: ProducedRecord): void;
  readonly length: number;
}

/** A partition's offsets as Kafka reports them to read_committed readers: [low, end). */
export interface PartitionEnd {
  topic: string;
  partition: number;
  low: bigint;
  end: bigint;
}

/** Whether a reader that applied the record at offset `applied` has every record below `end`. */
export const coversEnd = (applied: bigint, end: bigint) => applied >= end - 2n;

/** Records of a partition [low, end) not applied yet by a reader whose last applied offset is `applied` (null: none). */
export function recordsBehind(low: bigint, end: bigint, applied: bigint | null): number {
  if (end <= low) return 0;
  if (applied === null) return Number(end - low);
  return coversEnd(applied, end) ? 0 : Number(end - 2n - applied);
}

/** Whether a reader that applied up to `applied` has every record of the partition [low, end). */
export const caughtUp = (low: bigint, end: bigint, applied: bigint | null) => recordsBehind(low, end, applied) === 0;
