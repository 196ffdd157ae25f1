import type { Kafka } from 'kafkajs';
import { withThrowawayConsumer } from '../../connectors/kafka/range-reader';
import { partitionId } from '../../connectors/postgres-target/checkpoint-store';
import { endOffsets } from '../../connectors/kafka/offsets';
import type { LogRecord, PartitionEnd } from '../../contracts/positions';
import { belongs, eventPosition, type Cut } from './position';

export interface CutReadResult {
  /** Per partition, the last offset inside the cut (absent: nothing of the partition is inside). */
  lastIncluded: Map<string, bigint>;
  /** Per partition, the highest commit LSN inside the cut. */
  commitLsn: Map<string, bigint>;
  included: number;
  after: number;
  ends: PartitionEnd[];
}

export interface CutReadOptions {
  kafka: Kafka;
  groupPrefix: string;
  topics: string[];
  cut: Cut;
  /** Records inside the cut, a partition's records in log order (a call per fetched batch). */
  inside: (records: LogRecord[]) => Promise<void>;
  /** Records after the cut (only read when given: rollback's export). */
  after?: (records: LogRecord[]) => Promise<void>;
  /**
   * Give up once nothing arrived for this long with partitions not read to their end: a stuck read fails
   * instead of passing for a complete one (a busy machine can leave seconds between fetches).
   */
  idleMs?: number;
}

/**
 * Reads the topics from their beginning, read_committed, in a throw-away consumer group, up to the
 * end offsets they had when the read began, splitting each partition into the prefix inside the cut
 * and the records after it.
 */
export async function readToCut(options: CutReadOptions): Promise<CutReadResult> {
  const { kafka, topics, cut } = options;
  const idleMs = options.idleMs ?? 60_000;
  const ends = await endOffsets(kafka, topics);
  const endOf = new Map(ends.map((e) => [partitionId(e.topic, e.partition), e]));
  const open = new Map<string, boolean>();
  const seen = new Map<string, bigint>();
  /**
   * Per partition, how far the consumer has read, transaction markers included: the end offsets are
   * the last stable offsets, and a partition's last offset is often a commit marker, never handed
   * over as a record.
   */
  const readTo = new Map<string, bigint>();
  const result: CutReadResult = { lastIncluded: new Map(), commitLsn: new Map(), included: 0, after: 0, ends };
  const finished = (id: string): boolean => {
    const end = endOf.get(id);
    if (!end || end.end <= end.low) return true;
    if (open.get(id) === false && !options.after) return true;
    return [seen.get(id), readTo.get(id)].some((offset) => offset !== undefined && offset >= end.end - 1n);
  };
  const allFinished = () => [...endOf.keys()].every(finished);
  if (allFinished()) return result;

  let lastActivity = Date.now();
  let failure: unknown = null;
  let joined = false;
  const settings = { readUncommitted: false, maxWaitTimeInMs: 200, sessionTimeout: 10_000, heartbeatInterval: 1000 };
  await withThrowawayConsumer(kafka, `${options.groupPrefix}.`, settings, async (consumer) => {
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
      lastActivity = Date.now();
    });
    // After eachBatch has handled the batch; also for a batch of markers alone, which eachBatch never sees.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const id = partitionId(payload.topic, payload.partition);
      const offset = BigInt(payload.lastOffset);
      if (offset > (readTo.get(id) ?? -1n)) readTo.set(id, offset);
      lastActivity = Date.now();
    });
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        if (failure) return;
        lastActivity = Date.now();
        const id = partitionId(batch.topic, batch.partition);
        const end = endOf.get(id);
        if (!end) return;
        const inside: LogRecord[] = [];
        const later: LogRecord[] = [];
        for (const message of batch.messages) {
          const offset = BigInt(message.offset);
          if (offset >= end.end) break;
          const previous = seen.get(id);
          if (previous !== undefined && offset <= previous) continue; // a re-fetch
          seen.set(id, offset);
          const record: LogRecord = {
            topic: batch.topic,
            partition: batch.partition,
            offset,
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
          };
          const position = eventPosition(record.value);
          if (open.get(id) !== false && belongs(cut, record, position)) {
            inside.push(record);
            result.lastIncluded.set(id, offset);
            const lsn = position?.commitLsn;
            if (lsn != null && lsn > (result.commitLsn.get(id) ?? -1n)) result.commitLsn.set(id, lsn);
          } else {
            open.set(id, false);
            if (options.after) later.push(record);
            else break;
          }
        }
        try {
          if (inside.length > 0) {
            result.included += inside.length;
            await options.inside(inside);
          }
          if (later.length > 0) {
            result.after += later.length;
            await options.after!(later);
          }
        } catch (error) {
          failure = error;
        }
        lastActivity = Date.now();
        await heartbeat();
      },
    });
    const joinDeadline = Date.now() + 60_000;
    while (!failure && !allFinished() && (joined ? Date.now() - lastActivity < idleMs : Date.now() < joinDeadline)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!joined && !failure) failure = new Error(`could not join a Kafka consumer group to read ${topics.join(', ')} within 60 s`);
    const unfinished = [...endOf.keys()].filter((id) => !finished(id));
    if (!failure && unfinished.length > 0)
      failure = new Error(`${unfinished.join(', ')}: not read to the end within ${idleMs / 1000} s without progress`);
  });
  if (failure) throw failure;
  return result;
}
