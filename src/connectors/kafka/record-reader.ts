import type { Kafka } from 'kafkajs';
import { readRanges, readWatermarks, type PartitionRange } from './range-reader';

export interface RecordPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

export const positionKey = (p: RecordPosition) => `${p.topic}#${p.partition}#${p.offset}`;

/**
 * Reads the values of the records at these positions (read_committed) in a throw-away consumer
 * group: each partition from its lowest wanted offset up to its highest. A position the topic no
 * longer holds (below its low watermark) is absent from the result.
 */
export async function readRecordsAt(
  kafka: Kafka,
  positions: RecordPosition[],
  timeoutMs = 60_000,
): Promise<Map<string, string | null>> {
  const found = new Map<string, string | null>();
  const marks = await readWatermarks(kafka, positions.map((p) => p.topic));
  const wanted = new Set<string>();
  const ranges = new Map<string, PartitionRange>();
  for (const p of positions) {
    const mark = marks.get(p.topic)?.find((w) => w.partition === p.partition);
    if (!mark || p.offset < mark.low || p.offset >= mark.high) continue;
    wanted.add(positionKey(p));
    const id = `${p.topic}#${p.partition}`;
    const range = ranges.get(id) ?? { topic: p.topic, partition: p.partition, from: p.offset, through: p.offset };
    if (p.offset < range.from) range.from = p.offset;
    if (p.offset > range.through) range.through = p.offset;
    ranges.set(id, range);
  }
  await readRanges(
    kafka,
    [...ranges.values()],
    marks,
    { groupPrefix: 'tandem-record-reader-', maxWaitTimeInMs: 200, timeoutMs, failure: 'could not re-read' },
    (range, message) => {
      const key = positionKey({ topic: range.topic, partition: range.partition, offset: BigInt(message.offset) });
      if (wanted.has(key)) found.set(key, message.value ? message.value.toString('utf8') : null);
    },
  );
  return found;
}
