import type { LogRecord } from '../../contracts/positions';
import type { BatchItem } from '../framework/batch-applier';
import type { ProjectionDefinition } from '../framework/define-projection';
import { decodeRecord } from '../framework/event-decoder';

/** One record with what the projection makes of it. */
export function decodeItem(definition: ProjectionDefinition<unknown>, topicPrefix: string, record: LogRecord): BatchItem {
  return { record, decoded: decodeRecord(definition, topicPrefix, record) };
}
