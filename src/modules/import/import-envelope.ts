import { TANDEM_VERSION } from '../../connectors/postgres-source/change-event';
import type { ImportRecord } from '../../projections/framework/define-import';
import type { ProducedRecord } from '../../connectors/kafka/transactional-producer';

export const importTopic = (prefix: string, table: string) => `${prefix}.import.${table}`;

/**
 * An imported record as an `op: "r"` change event, shaped like a snapshot read so that projectors
 * treat it like any other row. Imports have no source LSN: commit_lsn is 0, so a captured change
 * of the same row (a real LSN) always wins over an imported one.
 */
export function importEvent(prefix: string, record: ImportRecord, nowMs: number): ProducedRecord {
  return {
    topic: importTopic(prefix, record.table),
    key: JSON.stringify(record.key),
    value: JSON.stringify({
      before: null,
      after: record.row,
      source: {
        version: TANDEM_VERSION,
        connector: 'tandem-import',
        name: prefix,
        ts_ms: nowMs,
        snapshot: 'true',
        db: 'import',
        sequence: null,
        schema: 'import',
        table: record.table,
        txId: null,
        lsn: null,
        commit_lsn: 0,
        xmin: null,
      },
      op: 'r',
      ts_ms: nowMs,
      transaction: null,
    }),
  };
}
