import type { Kafka } from 'kafkajs';
import { readRanges, readWatermarks } from './range-reader';

/** The records of one partition after `after` up to and including `through` (both offsets). */
export interface OffsetRange {
  topic: string;
  partition: number;
  after: bigint;
  through: bigint;
}

/**
 * The record keys of these ranges (read_committed, a throw-away consumer group), per topic; null when
 * a range is no longer whole in the topic (below its low watermark), the ranges hold more than
 * `limit` records, or a record has no key (a truncate: it concerns every row).
 */
export async function readKeysBetween(
  kafka: Kafka,
  ranges: OffsetRange[],
  limit: number,
  timeoutMs = 30_000,
): Promise<Map<string, Set<string>> | null> {
  const wanted = ranges.filter((r) => r.through > r.after);
  const keys = new Map<string, Set<string>>();
  if (wanted.length === 0) return keys;
  if (wanted.reduce((sum, r) => sum + Number(r.through - r.after), 0) > limit) return null;
  const marks = await readWatermarks(kafka, wanted.map((r) => r.topic));
  for (const range of wanted) {
    const mark = marks.get(range.topic)?.find((m) => m.partition === range.partition);
    if (!mark || range.after + 1n < mark.low || range.through >= mark.high) return null;
  }
  let keyless = false;
  await readRanges(
    kafka,
    wanted.map((r) => ({ topic: r.topic, partition: r.partition, from: r.after + 1n, through: r.through })),
    marks,
    { groupPrefix: 'tandem-key-reader-', maxWaitTimeInMs: 100, timeoutMs, failure: 'could not read' },
    (range, message) => {
      if (!message.key) {
        keyless = true;
        return;
      }
      const set = keys.get(range.topic) ?? new Set<string>();
      set.add(message.key.toString('utf8'));
      keys.set(range.topic, set);
    },
  );
  return keyless ? null : keys;
}
