import { lsnToNumber, type Lsn } from '../../shared/lsn';
import { converterFor, UNAVAILABLE_VALUE_PLACEHOLDER, type JsonValue } from './value-converter';
import { UNCHANGED_TOAST, type RawTuple, type RelationColumn } from './pgoutput-decoder';
import type { TypeRegistry } from './pg-types';

/** A row as it appears in `before`/`after` of a change event. */
export type Row = Record<string, JsonValue>;

export type Operation = 'c' | 'u' | 'd' | 'r' | 't';

/** The `source` block of the Debezium envelope, plus `commit_lsn` (Tandem's position; see README). */
export interface SourceInfo {
  version: string;
  connector: 'postgresql';
  name: string;
  ts_ms: number;
  snapshot: 'true' | 'false';
  db: string;
  sequence: string | null;
  schema: string;
  table: string;
  txId: number | null;
  lsn: number | null;
  commit_lsn: number | null;
  xmin: null;
}

export interface TransactionInfo {
  id: string;
  total_order: number;
  data_collection_order: number;
}

export interface ChangeEvent {
  before: Row | null;
  after: Row | null;
  source: SourceInfo;
  op: Operation;
  ts_ms: number;
  transaction: TransactionInfo | null;
}

/** One record to produce: a change event, a tombstone (value null) or a transaction marker. */
export interface OutgoingRecord {
  topic: string;
  key: string | null;
  value: string | null;
}

export const TANDEM_VERSION = '0.1.0';

export function tableTopic(prefix: string, schema: string, table: string): string {
  return `${prefix}.${schema}.${table}`;
}

export function transactionTopic(prefix: string): string {
  return `${prefix}.transaction`;
}

/** Converts one tuple into a row object; an unchanged TOASTed value becomes the documented placeholder. */
export function tupleToRow(columns: RelationColumn[], tuple: RawTuple, types: TypeRegistry): Row {
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i];
    const raw = tuple[i];
    if (raw === undefined) continue; // a column added after this tuple was written
    if (raw === null) row[column.name] = null;
    else if (raw === UNCHANGED_TOAST) row[column.name] = UNAVAILABLE_VALUE_PLACEHOLDER;
    else {
      try {
        row[column.name] = converterFor(types.resolve(column.typeOid))(raw);
      } catch (error) {
        throw new Error(`column "${column.name}": ${(error as Error).message}`);
      }
    }
  }
  return row;
}

/** The record key: the primary-key columns as a JSON object, in key order; null for a keyless table. */
export function keyOf(keyColumns: string[], row: Row): string | null {
  if (keyColumns.length === 0) return null;
  const key: Row = {};
  for (const column of keyColumns) key[column] = row[column] ?? null;
  return JSON.stringify(key);
}

export function sameKey(keyColumns: string[], a: Row, b: Row): boolean {
  return keyColumns.every((column) => JSON.stringify(a[column]) === JSON.stringify(b[column]));
}

export interface SourceContext {
  serverName: string;
  database: string;
  schema: string;
  table: string;
  snapshot: boolean;
  commitTimeMs: number;
  txId: number | null;
  lsn: Lsn | null;
  commitLsn: Lsn | null;
  previousCommitLsn: Lsn | null;
}

export function sourceInfo(context: SourceContext): SourceInfo {
  return {
    version: TANDEM_VERSION,
    connector: 'postgresql',
    name: context.serverName,
    ts_ms: context.commitTimeMs,
    snapshot: context.snapshot ? 'true' : 'false',
    db: context.database,
    sequence:
      context.lsn === null
        ? null
        : JSON.stringify([
            context.previousCommitLsn === null ? null : String(context.previousCommitLsn),
            String(context.lsn),
          ]),
    schema: context.schema,
    table: context.table,
    txId: context.txId,
    lsn: context.lsn === null ? null : lsnToNumber(context.lsn),
    commit_lsn: context.commitLsn === null ? null : lsnToNumber(context.commitLsn),
    xmin: null,
  };
}

export function changeEvent(
  op: Operation,
  before: Row | null,
  after: Row | null,
  source: SourceInfo,
  transaction: TransactionInfo | null,
  nowMs: number,
): ChangeEvent {
  return { before, after, source, op, ts_ms: nowMs, transaction };
}

/** An UPDATE's unchanged TOASTed values, filled in from the old row when REPLICA IDENTITY FULL sent it. */
export function fillUnchangedToast(after: Row, before: Row | null): Row {
  if (!before) return after;
  for (const [column, value] of Object.entries(after)) {
    const old = before[column];
    if (value === UNAVAILABLE_VALUE_PLACEHOLDER && old !== undefined && old !== UNAVAILABLE_VALUE_PLACEHOLDER) {
      after[column] = old;
    }
  }
  return after;
}
