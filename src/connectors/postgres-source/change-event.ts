import { lsnToNumber, type Lsn } from '../../shared/lsn';
import { TANDEM_VERSION } from '../../contracts/version';
import { UNAVAILABLE_VALUE, type Operation, type Row, type SourceContext } from '../../contracts/envelope';
import { converterFor, type Converter } from './value-converter';
import { UNCHANGED_TOAST, type RawTuple, type RelationColumn } from './pgoutput-decoder';
import type { TypeRegistry } from './pg-types';
import { maskText, type TableColumnRules } from './column-policy';

const MAX_SAFE_LSN = BigInt(Number.MAX_SAFE_INTEGER);

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

/**
 * Converts one tuple into a row object; an unchanged TOASTed value becomes the documented
 * placeholder. With column rules, excluded columns are left out and masked ones become the keyed
 * hash of their text (as PostgreSQL sent it), before any conversion.
 */
export function tupleToRow(
  columns: RelationColumn[],
  tuple: RawTuple,
  types: TypeRegistry,
  rules: TableColumnRules | null = null,
): Row {
  const row: Row = {};
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i];
    const raw = tuple[i];
    if (raw === undefined) continue; // a column added after this tuple was written
    if (rules?.exclude.has(column.name)) continue;
    if (raw === null) row[column.name] = null;
    else if (raw === UNCHANGED_TOAST) row[column.name] = UNAVAILABLE_VALUE;
    else if (rules?.mask.has(column.name)) row[column.name] = maskText(rules.key!, raw);
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

/**
 * keyOf for one table's key columns, without an object per key. The JSON is the same: except for
 * names JSON.stringify would order or treat differently (array indices, `__proto__` and the other
 * names of Object.prototype), which keep keyOf.
 */
export function keySerializer(keyColumns: string[]): (row: Row) => string | null {
  if (keyColumns.length === 0) return () => null;
  if (keyColumns.some((name) => name in Object.prototype || /^(0|[1-9]\d*)$/.test(name))) return (row) => keyOf(keyColumns, row);
  const heads = keyColumns.map((name, i) => `${i === 0 ? '{' : ','}${JSON.stringify(name)}:`);
  return (row) => {
    let json = '';
    for (let i = 0; i < keyColumns.length; i++) json += heads[i] + JSON.stringify(row[keyColumns[i]] ?? null);
    return `${json}}`;
  };
}

/**
 * tupleToRow for one relation's columns, with their converters looked up once (when every column's
 * type is known; a type announced later is looked up per tuple, as tupleToRow does).
 */
export function rowReader(columns: RelationColumn[], types: TypeRegistry, rules: TableColumnRules | null): (tuple: RawTuple) => Row {
  if (rules || !columns.every((column) => types.has(column.typeOid))) return (tuple) => tupleToRow(columns, tuple, types, rules);
  const converters = columns.map((column) => converterOf(types, column.typeOid));
  return (tuple) => {
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) {
      const raw = tuple[i];
      if (raw === undefined) continue; // a column added after this tuple was written
      const name = columns[i].name;
      if (raw === null) row[name] = null;
      else if (raw === UNCHANGED_TOAST) row[name] = UNAVAILABLE_VALUE;
      else {
        try {
          row[name] = converters[i](raw);
        } catch (error) {
          throw new Error(`column "${name}": ${(error as Error).message}`);
        }
      }
    }
    return row;
  };
}

export function sameKey(keyColumns: string[], a: Row, b: Row): boolean {
  return keyColumns.every((column) => JSON.stringify(a[column]) === JSON.stringify(b[column]));
}

/** An UPDATE's unchanged TOASTed values, filled in from the old row when REPLICA IDENTITY FULL sent it. */
export function fillUnchangedToast(after: Row, before: Row | null): Row {
  if (!before) return after;
  for (const [column, value] of Object.entries(after)) {
    const old = before[column];
    if (
      value === UNAVAILABLE_VALUE &&
      old !== undefined &&
      old !== UNAVAILABLE_VALUE
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
  private tailOp: Operation | null = null;
  private tailMs = 0;
  private tailJson = '';

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
    const lsnNumber = String(lsnToNumber(lsn));
    const lsnText = lsn <= MAX_SAFE_LSN ? lsnNumber : String(lsn); // the same digits, converted once
    return (
      `{"before":${before === null ? 'null' : JSON.stringify(before)},` +
      `"after":${after === null ? 'null' : JSON.stringify(after)},` +
      `"source":${this.sourceHead}${this.sequenceHead}${lsnText}\\"]"${this.sourceMiddle}${lsnNumber}${this.sourceTail},` +
      `"transaction":${this.transactionHead}${totalOrder},"data_collection_order":${collectionOrder}},` +
      this.tail(op, nowMs)
    );
  }

  /** The end of an event, the same for every event of one operation within one millisecond. */
  private tail(op: Operation, nowMs: number): string {
    if (op !== this.tailOp || nowMs !== this.tailMs) {
      this.tailOp = op;
      this.tailMs = nowMs;
      this.tailJson = `"op":"${op}","ts_ms":${nowMs},"ts_us":${nowMs * 1000},"ts_ns":${nowMs * 1_000_000}}`;
    }
    return this.tailJson;
  }
}
