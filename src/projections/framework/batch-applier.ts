import type { Pool, PoolClient } from 'pg';
import {
  executeStatements,
  planStatements,
  type SourcedOperation,
} from '../../connectors/postgres-target/row-writer';
import { saveCheckpoints, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { addToQuarantine } from '../../connectors/postgres-target/quarantine-store';
import type { LogRecord } from '../../contracts/positions';
import { commitOf } from '../../contracts/envelope';
import type { DecodedRecord } from './event-decoder';
import type { ProjectionDefinition } from './define-projection';
import { interleaveEvents } from './statement-interleaving';
import { withTransaction } from '../../shared/transaction';

export interface BatchItem {
  record: LogRecord;
  decoded: DecodedRecord<unknown>;
}

export interface Quarantined {
  record: LogRecord;
  reason: string;
  value: unknown;
}

export interface BatchResult {
  applied: number;
  quarantined: Quarantined[];
}

/** The operations of a batch in the order they are written (see ProjectionDefinition.interleaveEvents). */
export function batchOperations(
  definition: ProjectionDefinition<unknown>,
  items: BatchItem[],
): SourcedOperation[] {
  if (!definition.interleaveEvents) return items.flatMap(sourcedOperations);
  return interleaveEvents(items.map(sourcedOperations), (index) => {
    const { decoded, record } = items[index];
    return decoded.kind === 'apply'
      ? `${decoded.event.source}/${decoded.event.key ?? ''}`
      : `${record.topic}#${record.partition}#${record.offset}`;
  });
}

export function sourcedOperations(item: BatchItem): SourcedOperation[] {
  if (item.decoded.kind !== 'apply') return [];
  const { event, operations } = item.decoded;
  const sourceKey = `${event.source}/${event.key ?? ''}`;
  return operations.map((operation) => ({ operation, sourceKey, lsn: event.commitLsn }));
}

/**
 * Applies a batch in one target transaction: the rows, the quarantined events and the checkpoint.
 * The batch is written with few statements; if one fails (a constraint, a missing parent), the
 * batch is written again event by event, each behind a savepoint, and the events that fail go to
 * quarantine with PostgreSQL's reason while the others apply.
 */
export async function applyBatch(
  pool: Pool,
  definition: ProjectionDefinition<unknown>,
  items: BatchItem[],
  checkpoints: Checkpoint[],
  /** Runs in the same transaction, just before it commits, with what is being quarantined. */
  beforeCommit?: (client: PoolClient, quarantined: Quarantined[]) => Promise<void>,
): Promise<BatchResult> {
  const rejected: Quarantined[] = items.flatMap((item) =>
    item.decoded.kind === 'reject'
      ? [{ record: item.record, reason: item.decoded.reason, value: item.decoded.value }]
      : [],
  );
  const applicable = items.filter((item) => item.decoded.kind === 'apply');
  const client = await pool.connect();
  try {
    try {
      return await withTransaction(client, async () => {
        await executeStatements(
          client,
          planStatements(definition.name, definition.schema, batchOperations(definition, applicable)),
        );
        await finish(client, definition, rejected, checkpoints, beforeCommit);
        return { applied: applicable.length, quarantined: rejected };
      });
    } catch (error) {
      if (!isDataError(error)) throw error;
    }
    return await withTransaction(client, async () => {
      const failed: Quarantined[] = [];
      for (const item of applicable) {
        await client.query('SAVEPOINT tandem_event');
        try {
          await executeStatements(
            client,
            planStatements(definition.name, definition.schema, sourcedOperations(item)),
          );
          await client.query('RELEASE SAVEPOINT tandem_event');
        } catch (error) {
          if (!isDataError(error)) throw error;
          await client.query('ROLLBACK TO SAVEPOINT tandem_event');
          failed.push({
            record: item.record,
            reason: describePgError(error),
            value: safeJson(item.record.value),
          });
        }
      }
      await finish(client, definition, [...rejected, ...failed], checkpoints, beforeCommit);
      return { applied: applicable.length - failed.length, quarantined: [...rejected, ...failed] };
    });
  } finally {
    client.release();
  }
}

async function finish(
  client: PoolClient,
  definition: ProjectionDefinition<unknown>,
  quarantined: Quarantined[],
  checkpoints: Checkpoint[],
  beforeCommit?: (client: PoolClient, quarantined: Quarantined[]) => Promise<void>,
) {
  for (const entry of quarantined) {
    await addToQuarantine(client, {
      projection: definition.name,
      topic: entry.record.topic,
      partition: entry.record.partition,
      offset: entry.record.offset,
      sourceKey: entry.record.key,
      commitLsn: commitOf(entry.value).commitLsn,
      event: entry.value,
      reason: entry.reason,
    });
  }
  await saveCheckpoints(client, definition.name, checkpoints);
  await beforeCommit?.(client, quarantined);
}

/** Errors caused by the data (SQLSTATE classes 22 data exception and 23 integrity violation). */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

function describePgError(error: unknown): string {
  const pg = error as { message: string; constraint?: string; table?: string; code?: string };
  const where = [pg.table && `table ${pg.table}`, pg.constraint && `constraint ${pg.constraint}`]
    .filter(Boolean)
    .join(', ');
  return `rejected by the target database${where ? ` (${where})` : ''}: ${pg.message} [SQLSTATE ${pg.code}]`;
}

function safeJson(value: string | null): unknown {
  if (value === null) return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

