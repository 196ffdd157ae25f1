import type { ImportRecord } from '../../projections/framework/define-import';
import { importChangeEvent } from '../../contracts/envelope';
import { importTopic } from '../../contracts/names';
import type { ProducedRecord } from '../../contracts/positions';

/** An imported record on its import topic, as an `op: "r"` change event (contracts/envelope.ts). */
export function importEvent(prefix: string, record: ImportRecord, nowMs: number): ProducedRecord {
  return {
    topic: importTopic(prefix, record.table),
    key: JSON.stringify(record.key),
    value: JSON.stringify(importChangeEvent(prefix, record.table, record.row, nowMs)),
  };
}
