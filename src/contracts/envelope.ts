import { z } from 'zod';
import { lsnToNumber, type Lsn } from '../shared/lsn';
import { TANDEM_VERSION } from './version';
import { IMPORT_SCHEMA, transactionTopic } from './names';
import type { ProducedRecord } from './positions';

/**
 * The change event: the Debezium envelope as Tandem writes it (README, "What lands in Kafka"), its
 * types, the builders capture, import and the test kit write it with, and the schema projectors
 * read it with.
 */

/** A column value in `before`/`after` (README, "Column types"). */
export type JsonValue = null | boolean | number | string | JsonValue[];

/** A row as it appears in `before`/`after` of a change event. */
export type Row = Record<string, JsonValue>;

export type Operation = 'c' | 'u' | 'd' | 'r' | 't';

/**
 * An UPDATE that leaves a TOASTed column unchanged does not carry its value. Debezium's default
 * placeholder is kept so that existing sinks recognise it; the projector keeps the stored value.
 */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

/**
 * The `source` block of the Debezium envelope (fields in Debezium 3's order), plus `commit_lsn`
 * (Tandem's position; see README).
 */
export interface SourceInfo {
  version: string;
  connector: 'postgresql' | 'tandem-import';
  name: string;
  ts_ms: number;
  /** 'incremental' for a backfill read (Debezium's value for its incremental snapshots). */
  snapshot: 'true' | 'false' | 'incremental';
  db: string;
  sequence: string | null;
  /** Capture writes ts_us and ts_ns; imports do not. */
  ts_us?: number;
  ts_ns?: number;
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
  ts_us?: number;
  ts_ns?: number;
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

/**
 * An imported record as an `op: "r"` change event, shaped like a snapshot read so that projectors
 * treat it like any other row. Imports have no source LSN: commit_lsn is 0, so a captured change
 * of the same row (a real LSN) always wins over an imported one.
 */
export function importChangeEvent(prefix: string, table: string, row: Record<string, unknown>, nowMs: number): ChangeEvent {
  return {
    before: null,
    after: row as Row,
    source: {
      version: TANDEM_VERSION,
      connector: 'tandem-import',
      name: prefix,
      ts_ms: nowMs,
      snapshot: 'true',
      db: IMPORT_SCHEMA,
      sequence: null,
      schema: IMPORT_SCHEMA,
      table,
      txId: null,
      lsn: null,
      commit_lsn: 0,
      xmin: null,
    },
    op: 'r',
    ts_ms: nowMs,
    transaction: null,
  };
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
): ProducedRecord {
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

/** What a projector requires of a change event (it reads nothing else of it). */
export const changeEnvelopeSchema = z.object({
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
  op: z.enum(['c', 'u', 'd', 'r', 't']),
  ts_ms: z.number(),
  source: z.object({
    schema: z.string(),
    table: z.string(),
    snapshot: z.string().optional(),
    txId: z.number().nullable().optional(),
    lsn: z.number().nullable().optional(),
    commit_lsn: z.number().nullable(),
    ts_ms: z.number(),
  }),
  transaction: z.object({ id: z.string(), total_order: z.number(), data_collection_order: z.number() }).nullable().optional(),
});

export type ChangeEnvelope = z.infer<typeof changeEnvelopeSchema>;

/**
 * changeEnvelopeSchema.safeParse, without its copy of the event for the events it accepts: those
 * passing `isChangeEnvelope` (a check no looser than the schema) are returned as they are; anything
 * else goes through the schema, for its data or its reasons. The projector's hot path: zod copied
 * every row (twice with a projection's record input) and the garbage was a fifth of a mirror's CPU.
 */
export function parseChangeEnvelope(value: unknown): ReturnType<typeof changeEnvelopeSchema.safeParse> {
  if (isChangeEnvelope(value)) return { success: true, data: value };
  return changeEnvelopeSchema.safeParse(value);
}

/** A JSON object (not an array, not null): what z.record accepts. */
export const isPlainRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A row as z.record hands it on: zod's copy drops a `__proto__` column, so such a row goes to zod. */
const isRowRecord = (value: unknown) => isPlainRecord(value) && !Object.hasOwn(value, '__proto__');
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isOptionalNullableNumber = (value: unknown) => value === undefined || value === null || isNumber(value);
const CHANGE_OPS = new Set(['c', 'u', 'd', 'r', 't']);

function isChangeEnvelope(value: unknown): value is ChangeEnvelope {
  if (!isPlainRecord(value)) return false;
  const { before, after, op, ts_ms, source, transaction } = value;
  if (!(before === null || isRowRecord(before)) || !(after === null || isRowRecord(after))) return false;
  if (typeof op !== 'string' || !CHANGE_OPS.has(op) || !isNumber(ts_ms) || !isPlainRecord(source)) return false;
  const sourceValid =
    typeof source.schema === 'string' &&
    typeof source.table === 'string' &&
    (source.snapshot === undefined || typeof source.snapshot === 'string') &&
    isOptionalNullableNumber(source.txId) &&
    isOptionalNullableNumber(source.lsn) &&
    (source.commit_lsn === null || isNumber(source.commit_lsn)) &&
    isNumber(source.ts_ms);
  if (!sourceValid) return false;
  return (
    transaction === undefined ||
    transaction === null ||
    (isPlainRecord(transaction) &&
      typeof transaction.id === 'string' &&
      isNumber(transaction.total_order) &&
      isNumber(transaction.data_collection_order))
  );
}

/**
 * The commit LSN and commit time of a parsed event, read leniently (null where a field is missing
 * or not a number): for values that may not be change events at all, e.g. a quarantined one.
 */
export function commitOf(value: unknown): { commitLsn: bigint | null; commitMs: number | null } {
  const source = (value as { source?: { commit_lsn?: unknown; ts_ms?: unknown } } | null)?.source;
  return {
    commitLsn: typeof source?.commit_lsn === 'number' ? BigInt(source.commit_lsn) : null,
    commitMs: typeof source?.ts_ms === 'number' ? source.ts_ms : null,
  };
}
