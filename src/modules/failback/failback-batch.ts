import type { Client } from 'pg';
import { formatLsn } from '../../shared/lsn';
import { executeLegacyStatements, planLegacyStatements, type GuardedOperation } from '../../connectors/postgres-legacy/legacy-writer';
import { saveCheckpoints, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { addToQuarantine } from '../../connectors/postgres-target/quarantine-store';
import { isDataError } from '../../projections/framework/batch-applier';
import type { LogRecord } from '../../contracts/positions';
import { withTransaction } from '../../shared/transaction';

/** One record of a failback batch: its legacy writes, or the reason it goes to quarantine. */
export type FailbackUnit =
  | { record: LogRecord; operations: GuardedOperation[]; commitTimeMs: number }
  | { record: LogRecord; reject: string; value: unknown };

export interface FailbackRejected {
  record: LogRecord;
  reason: string;
  value: unknown;
}

/**
 * Writes a batch to the legacy database in one transaction: the rows, the quarantined records and
 * the failback checkpoint. The session is marked with failback's replication origin (set up once
 * on `client`), and the transaction records the highest target commit LSN as the origin's
 * progress. A data error makes it write again record by record behind savepoints, so only the
 * records the legacy database refuses go to quarantine, with its reason.
 */
export async function applyFailbackBatch(
  client: Client,
  name: string,
  units: FailbackUnit[],
  checkpoint: Checkpoint,
): Promise<{ applied: number; quarantined: FailbackRejected[] }> {
  const rejected: FailbackRejected[] = units.flatMap((unit) =>
    'reject' in unit ? [{ record: unit.record, reason: unit.reject, value: unit.value }] : [],
  );
  const writes = units.filter((unit): unit is Extract<FailbackUnit, { operations: GuardedOperation[] }> => 'operations' in unit);
  try {
    return await withTransaction(client, async () => {
      await markOrigin(client, writes);
      await executeLegacyStatements(client, planLegacyStatements(name, writes.flatMap((unit) => unit.operations)));
      await finish(client, name, rejected, checkpoint);
      return { applied: writes.length, quarantined: rejected };
    });
  } catch (error) {
    if (!isDataError(error)) throw error;
  }
  return withTransaction(client, async () => {
    await markOrigin(client, writes);
    const failed: FailbackRejected[] = [];
    for (const unit of writes) {
      await client.query('SAVEPOINT tandem_change');
      try {
        await executeLegacyStatements(client, planLegacyStatements(name, unit.operations));
        await client.query('RELEASE SAVEPOINT tandem_change');
      } catch (error) {
        if (!isDataError(error)) throw error;
        await client.query('ROLLBACK TO SAVEPOINT tandem_change');
        const pg = error as { message: string; code?: string };
        failed.push({ record: unit.record, reason: `rejected by the legacy database: ${pg.message} [SQLSTATE ${pg.code}]`, value: parse(unit.record.value) });
      }
    }
    await finish(client, name, [...rejected, ...failed], checkpoint);
    return { applied: writes.length - failed.length, quarantined: [...rejected, ...failed] };
  });
}

/** Marks the open transaction's writes with the replication origin's position (forward capture skips them). */
async function markOrigin(client: Client, writes: Array<{ operations: GuardedOperation[]; commitTimeMs: number }>): Promise<void> {
  const lsns = writes.flatMap((unit) => unit.operations.map((operation) => operation.lsn));
  if (lsns.length === 0) return;
  const highest = lsns.reduce((a, b) => (a > b ? a : b));
  const time = Math.max(...writes.map((unit) => unit.commitTimeMs));
  await client.query('SELECT pg_replication_origin_xact_setup($1::pg_lsn, to_timestamp($2::double precision / 1000))', [formatLsn(highest), time]);
}

async function finish(client: Client, name: string, quarantined: FailbackRejected[], checkpoint: Checkpoint): Promise<void> {
  for (const entry of quarantined) {
    await addToQuarantine(client, {
      projection: name,
      topic: entry.record.topic,
      partition: entry.record.partition,
      offset: entry.record.offset,
      sourceKey: entry.record.key,
      commitLsn: null,
      event: entry.value,
      reason: entry.reason,
    });
  }
  await saveCheckpoints(client, name, [checkpoint]);
}

function parse(value: string | null): unknown {
  if (value === null) return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
