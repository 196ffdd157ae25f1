import type { LogRecord } from '../../contracts/positions';
import type { BatchItem } from '../framework/batch-applier';
import type { ProjectionDefinition } from '../framework/define-projection';
import { decodeRecord } from '../framework/event-decoder';

/** Each record with what the projection makes of it: row operations, a rejection, or nothing (a tombstone). */
export function decodeRecords(
  definition: ProjectionDefinition<unknown>,
  topicPrefix: string,
  records: LogRecord[],
): BatchItem[] {
  return records.map((record) => ({ record, decoded: decodeRecord(definition, topicPrefix, record) }));
}
