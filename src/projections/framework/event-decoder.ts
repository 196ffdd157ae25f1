import type { ZodError } from 'zod';
import { parseChangeEnvelope } from '../../contracts/envelope';
import type { LogRecord } from '../../contracts/positions';
import { sourceOfTopic } from '../../contracts/names';
import type { ProjectionDefinition, ProjectionEvent, RowOperation } from './define-projection';

export type DecodedRecord<Row> =
  | { kind: 'skip' }
  | { kind: 'apply'; event: ProjectionEvent<Row>; operations: RowOperation[] }
  | { kind: 'reject'; reason: string; commitLsn: bigint | null; value: unknown };

function describe(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(row)'}: ${issue.message}`).join('; ');
}

/**
 * Turns one Kafka record into the row operations of a projection, or into a rejection that names
 * the reason. Pure: no I/O; the runner writes and quarantines.
 */
export function decodeRecord<Row>(definition: ProjectionDefinition<Row>, prefix: string, record: LogRecord): DecodedRecord<Row> {
  if (record.value === null) return { kind: 'skip' }; // tombstone: the delete event before it did the work
  let parsed: unknown;
  try {
    parsed = JSON.parse(record.value);
  } catch {
    return { kind: 'reject', reason: 'the event is not valid JSON', commitLsn: null, value: record.value };
  }
  const envelope = parseChangeEnvelope(parsed);
  if (!envelope.success) {
    return { kind: 'reject', reason: `not a change event: ${describe(envelope.error)}`, commitLsn: null, value: parsed };
  }
  const change = envelope.data;
  const commitLsn = change.source.commit_lsn === null ? 0n : BigInt(change.source.commit_lsn);
  const source = sourceOfTopic(prefix, record.topic);
  const input = definition.input[source];
  if (!input) return { kind: 'reject', reason: `the projection does not read ${source}`, commitLsn, value: parsed };
  let after: Row | null = null;
  if (change.after !== null) {
    const result = input.safeParse(change.after);
    if (!result.success) return { kind: 'reject', reason: `invalid ${source} row: ${describe(result.error)}`, commitLsn, value: parsed };
    after = result.data;
  }
  const event: ProjectionEvent<Row> = {
    source,
    op: change.op,
    before: change.before,
    after,
    key: record.key,
    commitLsn,
    commitTimeMs: change.source.ts_ms,
    transactionId: change.transaction?.id ?? null,
    position: { topic: record.topic, partition: record.partition, offset: record.offset },
  };
  let operations: RowOperation[];
  try {
    operations = definition.apply(event);
  } catch (error) {
    return { kind: 'reject', reason: (error as Error).message, commitLsn, value: parsed };
  }
  for (const operation of operations) {
    if (operation.op !== 'upsert') continue;
    const schema = definition.output?.[operation.table];
    const result = schema?.safeParse(operation.row);
    if (result && !result.success) {
      return { kind: 'reject', reason: `invalid ${operation.table} row: ${describe(result.error)}`, commitLsn, value: parsed };
    }
  }
  return { kind: 'apply', event, operations };
}
