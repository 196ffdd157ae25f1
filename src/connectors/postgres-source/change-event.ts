import { lsnToNumber, type Lsn } from '../../shared/lsn';
import {
  converterFor,
  UNAVAILABLE_VALUE_PLACEHOLDER,
  type Converter,
  type JsonValue,
} from './value-converter';
import { UNCHANGED_TOAST, type RawTuple, type RelationColumn } from './pgoutput-decoder';
import type { TypeRegistry } from './pg-types';

/** A row as it appears in `before`/`after` of a change event. */
export type Row = Record<string, JsonValue>;

export type Operation = 'c' | 'u' | 'd' | 'r' | 't';

/**
 * The `source` block of the Debezium envelope (fields in Debezium 3's order), plus `commit_lsn`
 * (Tandem's position; see README).
 */
export interface SourceInfo {
  version: string;
  connector: 'postgresql';
  name: string;
  ts_ms: number;
  /** 'incremental' for a backfill read (Debezium's value for its incremental snapshots). */
  snapshot: 'true' | 'false' | 'incremental';
  db: string;
  sequence: string | null;
  ts_us: number;
  ts_ns: number;
  schema: string;
  table: string;
  txId: number | null;
  lsn: number | null;
  xmin: null;
  commit_lsn: number | null;
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
  transaction: TransactionInfo | null;
  op: Operation;
  ts_ms: number;
  ts_us: number;
  ts_ns: number;
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

/**
 * A BEGIN marker (perTable null) or an END marker with the transaction's event counts, for the
 * transaction topic.
 */
export function transactionMarker(
  prefix: string,
  id: string,
  commitTimeMicros: number,
  perTable: Map<string, number> | null,
): OutgoingRecord {
  let eventCount: number | null = null;
  if (perTable) eventCount = [...perTable.values()].reduce((sum, count) => sum + count, 0);
  return {
    topic: transactionTopic(prefix),
    key: JSON.stringify({ id }),
    value: JSON.stringify({
      status: perTable ? 'END' : 'BEGIN',
      id,
      event_count: eventCount,
      data_collections: perTable && [...perTable].map(([dataCollection, count]) => ({ data_collection: dataCollection, event_count: count })),
      ts_ms: Math.floor(commitTimeMicros / 1000),
    }),
  };
}

/** Converters by type OID, per registry; only for OIDs the registry knows (an unknown one may be learned later). */
const convertersByRegistry = new WeakMap<TypeRegistry, Map<number, Converter>>();

function converterOf(types: TypeRegistry, oid: number): Converter {
  let converters = convertersByRegistry.get(types);
  if (!converters) convertersByRegistry.set(types, (converters = new Map()));
  let converter = converters.get(oid);
  if (!converter) {
    converter = converterFor(types.resolve(oid));
    if (types.has(oid)) converters.set(oid, converter);
  }
  return converter;
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
        row[column.name] = converterOf(types, column.typeOid)(raw);
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
  snapshot: boolean | 'incremental';
  /** Commit time of the source transaction (for a snapshot: when the snapshot was read), in microseconds. */
  commitTimeMicros: number;
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
    ts_ms: Math.floor(context.commitTimeMicros / 1000),
    snapshot: context.snapshot === 'incremental' ? 'incremental' : context.snapshot ? 'true' : 'false',
    db: context.database,
    sequence:
      context.lsn === null
        ? null
        : JSON.stringify([
            context.previousCommitLsn === null ? null : String(context.previousCommitLsn),
            String(context.lsn),
          ]),
    ts_us: context.commitTimeMicros,
    // Beyond 2^53 like Debezium's; only the last digits round, and ts_us is exact.
    ts_ns: context.commitTimeMicros * 1000,
    schema: context.schema,
    table: context.table,
    txId: context.txId,
    lsn: context.lsn === null ? null : lsnToNumber(context.lsn),
    xmin: null,
    commit_lsn: context.commitLsn === null ? null : lsnToNumber(context.commitLsn),
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
  return {
    before,
    after,
    source,
    transaction,
    op,
    ts_ms: nowMs,
    ts_us: nowMs * 1000,
    ts_ns: nowMs * 1_000_000,
  };
}

/** An UPDATE's unchanged TOASTed values, filled in from the old row when REPLICA IDENTITY FULL sent it. */
export function fillUnchangedToast(after: Row, before: Row | null): Row {
  if (!before) return after;
  for (const [column, value] of Object.entries(after)) {
    const old = before[column];
    if (
      value === UNAVAILABLE_VALUE_PLACEHOLDER &&
      old !== undefined &&
      old !== UNAVAILABLE_VALUE_PLACEHOLDER
    ) {
      after[column] = old;
    }
  }
  return after;
}

/**
 * Serializes streamed change events of one table within one transaction: the same bytes as
 * `JSON.stringify(changeEvent(…, sourceInfo(…), …))`, but the `source` fields that do not change
 * from one event to the next are serialized once. Capture's hot path spent a third of its envelope
 * time re-serializing them for every event (profile in BENCHMARKS.md).
 */
export class StreamEventSerializer {
  private readonly sourceHead: string;
  private readonly sequenceHead: string;
  private readonly sourceMiddle: string;
  private readonly sourceTail: string;
  private readonly transactionHead: string;

  constructor(context: Omit<SourceContext, 'lsn' | 'snapshot'> & { commitLsn: Lsn }, transactionId: string) {
    const ts = context.commitTimeMicros;
    this.sourceHead =
      `{"version":${JSON.stringify(TANDEM_VERSION)},"connector":"postgresql","name":${JSON.stringify(context.serverName)},` +
      `"ts_ms":${Math.floor(ts / 1000)},"snapshot":"false","db":${JSON.stringify(context.database)},"sequence":`;
    this.sequenceHead =
      context.previousCommitLsn === null ? '"[null,\\"' : `"[\\"${String(context.previousCommitLsn)}\\",\\"`;
    this.sourceMiddle =
      `,"ts_us":${ts},"ts_ns":${ts * 1000},"schema":${JSON.stringify(context.schema)},` +
      `"table":${JSON.stringify(context.table)},"txId":${JSON.stringify(context.txId)},"lsn":`;
    this.sourceTail = `,"xmin":null,"commit_lsn":${lsnToNumber(context.commitLsn)}}`;
    this.transactionHead = `{"id":${JSON.stringify(transactionId)},"total_order":`;
  }

  eventJson(
    op: Operation,
    before: Row | null,
    after: Row | null,
    lsn: Lsn,
    totalOrder: number,
    collectionOrder: number,
    nowMs: number,
  ): string {
    return (
      `{"before":${before === null ? 'null' : JSON.stringify(before)},` +
      `"after":${after === null ? 'null' : JSON.stringify(after)},` +
      `"source":${this.sourceHead}${this.sequenceHead}${String(lsn)}\\"]"${this.sourceMiddle}${lsnToNumber(lsn)}${this.sourceTail},` +
      `"transaction":${this.transactionHead}${totalOrder},"data_collection_order":${collectionOrder}},` +
      `"op":"${op}","ts_ms":${nowMs},"ts_us":${nowMs * 1000},"ts_ns":${nowMs * 1_000_000}}`
    );
  }
}
