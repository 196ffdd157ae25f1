/**
 * What "compatible with Debezium's envelope" means for the envelope-compat test: values that
 * legitimately differ between two runs are masked, and each deliberate difference (README,
 * "Differences from Debezium") is mapped from Debezium's representation to Tandem's, so that the
 * rest must be identical.
 */
import type { EnvelopeRecording, RecordedRecord, RecordedStep } from './envelope-recording';

const VARIES = '<varies>';

/** Fields that differ between any two runs: clocks, positions, transaction ids, the producer's version. */
const VARYING_SOURCE_FIELDS = ['version', 'ts_ms', 'ts_us', 'ts_ns', 'txId', 'lsn', 'sequence', 'xmin'];
const VARYING_EVENT_FIELDS = ['ts_ms', 'ts_us', 'ts_ns'];

function mask(object: Record<string, unknown>, fields: string[]): void {
  for (const field of fields) if (field in object && object[field] !== null) object[field] = VARIES;
}

export function maskVarying(record: RecordedRecord): RecordedRecord {
  const value = record.value === null ? null : structuredClone(record.value);
  if (value && record.topic === 'transaction') {
    mask(value, ['id', 'ts_ms']);
    return { ...record, key: { id: VARIES }, value };
  }
  if (value) {
    mask(value, VARYING_EVENT_FIELDS);
    mask(value.source, VARYING_SOURCE_FIELDS);
    if (value.transaction) value.transaction.id = VARIES;
  }
  return { ...record, value };
}

// ------------------------------------------------------------ Debezium -> Tandem, deliberate differences

type Row = Record<string, unknown>;

/** Debezium writes bigint as a JSON number (kept exactly by parseExact as {"$number": …}); Tandem as a string. */
function bigintAsString(value: unknown): unknown {
  if (value === null) return null;
  if (typeof value === 'object' && value !== null && '$number' in value)
    return (value as { $number: string }).$number;
  return String(value);
}

/** Debezium's default numeric (decimal.handling.mode=precise) without schema: base64 of the unscaled two's-complement value. */
export function decimalFromBase64(value: unknown, scale: number): unknown {
  if (typeof value !== 'string') return value;
  const bytes = Buffer.from(value, 'base64');
  let unscaled = 0n;
  for (const byte of bytes) unscaled = (unscaled << 8n) | BigInt(byte);
  if (bytes.length > 0 && bytes[0] & 0x80) unscaled -= 1n << BigInt(bytes.length * 8);
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}

/** Debezium's timestamp (time.precision.mode=adaptive): epoch microseconds; Tandem: ISO text without zone. */
export function timestampFromMicros(value: unknown): unknown {
  if (typeof value !== 'number') return value;
  const micros = BigInt(value);
  const seconds = Number(micros / 1_000_000n);
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return fraction ? `${base}.${fraction}` : base;
}

/** Debezium's date: days since the epoch; Tandem: ISO date. */
export function dateFromDays(value: unknown): unknown {
  if (typeof value !== 'number') return value;
  return new Date(value * 86_400_000).toISOString().slice(0, 10);
}

/** The `{types}` table's columns whose representation differs by design, and how Debezium's maps to Tandem's. */
const TYPES_COLUMNS: Record<string, (value: unknown) => unknown> = {
  id: bigintAsString,
  big: bigintAsString,
  amount: (value) => decimalFromBase64(value, 10),
  local_at: timestampFromMicros,
  day: dateFromDays,
};

function mapRow(row: Row | null, columns: Record<string, (value: unknown) => unknown>): Row | null {
  if (row === null) return null;
  const mapped: Row = { ...row };
  for (const [column, map] of Object.entries(columns))
    if (column in mapped) mapped[column] = map(mapped[column]);
  return mapped;
}

/** Debezium's record as Tandem writes it, by the deliberate differences of the README. */
export function debeziumAsTandem(record: RecordedRecord): RecordedRecord {
  if (record.topic === 'transaction') return record;
  const columns = record.topic === 'types' ? TYPES_COLUMNS : {};
  const key = record.key === null ? null : mapRow(record.key as Row, columns);
  if (record.value === null) return { ...record, key };
  const value = structuredClone(record.value);
  value.before = mapRow(value.before, columns);
  value.after = mapRow(value.after, columns);
  // Debezium marks the first and last snapshot records ("first", "first_in_data_collection", "last", …); Tandem "true".
  if (value.source.snapshot !== 'false') {
    value.source.snapshot = 'true';
    // Debezium takes a transaction id for its snapshot transaction; Tandem's parallel chunk readers have none.
    value.source.txId = null;
  }
  return { ...record, key, value };
}

/** Tandem's own additions to the envelope, absent from Debezium's: the source commit LSN. */
export function withoutTandemAdditions(record: RecordedRecord): RecordedRecord {
  if (record.value === null || record.topic === 'transaction') return record;
  const value = structuredClone(record.value);
  delete value.source.commit_lsn;
  return { ...record, value };
}

export interface ComparableStep {
  name: string;
  records: RecordedRecord[];
}

export function comparableDebezium(recording: EnvelopeRecording): ComparableStep[] {
  return [recording.snapshot, ...recording.steps].map((step: RecordedStep) => ({
    name: step.name,
    records: step.records.map((r) => maskVarying(debeziumAsTandem(r))),
  }));
}

export function comparableTandem(recording: EnvelopeRecording): ComparableStep[] {
  return [recording.snapshot, ...recording.steps].map((step: RecordedStep) => ({
    name: step.name,
    records: step.records.map((r) => maskVarying(withoutTandemAdditions(r))),
  }));
}
