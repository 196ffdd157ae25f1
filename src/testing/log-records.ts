import type { LogRecord } from '../contracts/positions';
import { changeEvent, sourceInfo, type Row } from '../contracts/envelope';
import { sourceTopic } from '../contracts/names';
import { keyOf, type TestChangeEvent } from './change-events';

export const DEFAULT_PREFIX = 'legacy';
const DEFAULT_COMMIT_TIME_MS = 1_700_000_000_000;
const FIRST_LSN = 0x1000n;

/**
 * Turns test events into the Kafka records capture would have produced (topic
 * `<prefix>.<schema>.<table>`, key, Debezium envelope), one partition, offsets in order. An event
 * without a commitLsn gets the next one after the highest seen so far.
 */
export class LogRecordSequence {
  private offset = 0n;
  private lsn = FIRST_LSN;

  constructor(private readonly prefix = DEFAULT_PREFIX) {}

  next(event: TestChangeEvent): LogRecord {
    const commitLsn = event.commitLsn === undefined ? this.lsn + 1n : BigInt(event.commitLsn);
    if (commitLsn > this.lsn) this.lsn = commitLsn;
    const [schema, table] = event.source.split('.');
    const commitTimeMs = event.commitTimeMs ?? DEFAULT_COMMIT_TIME_MS;
    const transactionId = event.transactionId ?? null;
    const source = sourceInfo({
      serverName: this.prefix,
      database: 'legacy',
      schema,
      table,
      snapshot: event.op === 'r',
      commitTimeMicros: commitTimeMs * 1000,
      txId: null,
      lsn: commitLsn,
      commitLsn,
      previousCommitLsn: null,
    });
    const transaction = transactionId === null ? null : { id: transactionId, total_order: 1, data_collection_order: 1 };
    const envelope = changeEvent(event.op, event.before as Row | null, event.after as Row | null, source, transaction, commitTimeMs);
    return {
      topic: sourceTopic(this.prefix, event.source),
      partition: 0,
      offset: this.offset++,
      key: keyOf(event),
      value: JSON.stringify(envelope),
    };
  }
}
