import type { ZodError } from 'zod';
import { parseChangeEnvelope } from '../../contracts/envelope';
import { type LogRecord } from '../../contracts/positions';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import type { LegacyRowOperation, TargetChange } from '../../projections/framework/define-inverse';

export type DecodedChange =
  | { kind: 'skip' }
  | { kind: 'change'; change: TargetChange }
  | { kind: 'reject'; reason: string; value: unknown };

export interface FailbackItem {
  record: LogRecord;
  decoded: DecodedChange;
}

function describe(error: ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(event)'}: ${issue.message}`).join('; ');
}

/** Pure: one record of a failback topic → the target change it carries, or why it cannot be used. */
export function decodeTargetChange(definition: ProjectionDefinition<unknown>, record: LogRecord): DecodedChange {
  if (record.value === null) return { kind: 'skip' }; // tombstone after a delete
  let parsed: unknown;
  try {
    parsed = JSON.parse(record.value);
  } catch {
    return { kind: 'reject', reason: 'the event is not valid JSON', value: record.value };
  }
  const envelope = parseChangeEnvelope(parsed);
  if (!envelope.success) return { kind: 'reject', reason: `not a change event: ${describe(envelope.error)}`, value: parsed };
  const { op, before, after, source } = envelope.data;
  if (op === 't') {
    return { kind: 'reject', reason: `TRUNCATE of ${source.schema}.${source.table} is not carried back to the legacy tables`, value: parsed };
  }
  if (source.schema !== definition.schema || !definition.invert?.tables.includes(source.table)) {
    return { kind: 'reject', reason: `${source.schema}.${source.table} is not a table ${definition.name} carries back`, value: parsed };
  }
  return {
    kind: 'change',
    change: {
      table: source.table,
      op,
      before,
      after,
      commitLsn: BigInt(source.commit_lsn ?? 0),
      commitTimeMs: source.ts_ms,
      position: { topic: record.topic, partition: record.partition, offset: record.offset },
    },
  };
}

/** Pure: the legacy writes of one change through an `apply` inverse; a throw names the reason. */
export function invertChange(definition: ProjectionDefinition<unknown>, change: TargetChange): LegacyRowOperation[] {
  const apply = definition.invert?.apply;
  if (!apply) throw new Error(`projection ${definition.name} has no apply inverse`);
  return apply(change);
}
