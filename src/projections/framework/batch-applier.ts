import { resetWriteOrigin, setupWriteOrigin, writeOriginOf } from '../../connectors/postgres-target/write-origin';
import type { Pool, PoolClient } from 'pg';
import {
  executeStatements,
  planStatements,
  statementsOf,
  type SourcedOperation,
} from '../../connectors/postgres-target/row-writer';
import type { SqlStatement } from '../../connectors/postgres-target/sql';
import { saveCheckpoints, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { addToQuarantine, waitingKey, waitingKeys } from '../../connectors/postgres-target/quarantine-store';
import type { LogRecord } from '../../contracts/positions';
import { commitOf } from '../../contracts/envelope';
import type { DecodedRecord } from './event-decoder';
import type { ProjectionDefinition } from './define-projection';
import { scrubSecrets, sensitiveValuesOfRecord, withoutSensitiveFields } from './sensitive-fields';
import { interleaveEvents } from './statement-interleaving';
import { withTransaction } from '../../shared/transaction';
import type { Refusal } from './waiting-parents';

export interface BatchItem {
  record: LogRecord;
  decoded: DecodedRecord<unknown>;
}

export interface Quarantined {
  record: LogRecord;
  reason: string;
  value: unknown;
}

/** An event set aside to wait; `refusal`: what the target said when it refused it (waiting-parents.ts learns from it). */
export interface Waiting extends Quarantined {
  refusal?: Refusal;
}

export interface BatchResult {
  applied: number;
  quarantined: Quarantined[];
  /** Events set aside until the row they refer to arrives (ProjectionDefinition.retryOrderingConflicts). */
  waiting: Waiting[];
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

/**
 * A chunk's statements planned before its target transaction begins (planAhead), or null where they
 * cannot be: a projection with a beforeWrite step reads the target first.
 */
export type PlannedStatements = SqlStatement[] | null;

/**
 * Plans the statements of a chunk's applicable events ahead of its transaction, pausing on `slicer`
 * between statements so that the round trips of the chunk being written go on meanwhile. applyBatch
 * uses them when all those events apply (none waits behind an earlier one).
 */
export async function planAhead(
  definition: ProjectionDefinition<unknown>,
  items: BatchItem[],
  slicer: { pause(): Promise<void> },
): Promise<PlannedStatements> {
  if (definition.beforeWrite) return null;
  const applicable = items.filter((item) => item.decoded.kind === 'apply');
  const operations = batchOperations(definition, applicable);
  await slicer.pause();
  const statements: SqlStatement[] = [];
  for (const statement of statementsOf(definition.name, definition.schema, operations)) {
    statements.push(statement);
    await slicer.pause();
  }
  return statements;
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
  /** The chunk's statements from planAhead, if it ran. */
  planned: PlannedStatements = null,
): Promise<BatchResult> {
  const rejected: Quarantined[] = items.flatMap((item) =>
    item.decoded.kind === 'reject' ? [quarantined(definition, item.record, item.decoded.reason, item.decoded.value)] : [],
  );
  const client = await pool.connect();
  const origin = writeOriginOf(pool, definition.name);
  let reusable = true;
  try {
    if (origin) await setupWriteOrigin(client, origin);
    try {
      return await withTransaction(client, async () => {
        const { ready, waiting } = await behindWaiting(client, definition, items);
        // a plan made ahead assumed that every applicable event applies
        const statements =
          planned !== null && waiting.length === 0
            ? planned
            : planStatements(definition.name, definition.schema, batchOperations(definition, await prepareItems(client, definition, ready)));
        await executeStatements(client, statements);
        await finish(client, definition, rejected, waiting, checkpoints, beforeCommit);
        return { applied: ready.length, quarantined: rejected, waiting };
      });
    } catch (error) {
      if (!isDataError(error)) throw error;
    }
    return await withTransaction(client, async () => {
      const failed: Quarantined[] = [];
      const { ready, waiting } = await behindWaiting(client, definition, items);
      const setAsideBefore = waiting.length;
      const parked = new Set<string>();
      for (const item of ready) {
        const key = waitingKey(item.record.topic, item.record.key);
        if (parked.has(key)) {
          waiting.push(setAside(definition, item, 'an earlier event of the same row is waiting'));
          continue;
        }
        await client.query('SAVEPOINT tandem_event');
        try {
          const [prepared] = await prepareItems(client, definition, [item]);
          await executeStatements(
            client,
            planStatements(definition.name, definition.schema, sourcedOperations(prepared)),
          );
          await client.query('RELEASE SAVEPOINT tandem_event');
        } catch (error) {
          if (!isDataError(error)) throw error;
          await client.query('ROLLBACK TO SAVEPOINT tandem_event');
          if (definition.retryOrderingConflicts && isOrderingConflict(error) && item.record.key !== null) {
            const refusal: Refusal = {
              error,
              message: scrubSecrets((error as Error).message, sensitiveValuesOfRecord(definition, item.record)),
              operations: item.decoded.kind === 'apply' ? item.decoded.operations : [],
            };
            waiting.push({ ...setAside(definition, item, `waits for the row it refers to: ${describePgError(error)}`), refusal });
            parked.add(key);
            continue;
          }
          failed.push(quarantined(definition, item.record, describePgError(error), safeJson(item.record.value)));
        }
      }
      await finish(client, definition, [...rejected, ...failed], waiting, checkpoints, beforeCommit);
      return { applied: ready.length - failed.length - (waiting.length - setAsideBefore), quarantined: [...rejected, ...failed], waiting };
    });
  } finally {
    if (origin) reusable = await resetWriteOrigin(client);
    client.release(!reusable);
  }
}

/**
 * A rejected event as quarantine, the dead-letter topic and the log get it: the projection's
 * sensitive columns left out of the event and masked in the reason (sensitive-fields.ts).
 */
export function quarantined(
  definition: ProjectionDefinition<unknown>,
  record: LogRecord,
  reason: string,
  value: unknown,
): Quarantined {
  const secrets = sensitiveValuesOfRecord(definition, record);
  return {
    record,
    reason: scrubSecrets(reason, secrets),
    value: withoutSensitiveFields(definition, record.topic, value),
  };
}

/**
 * The applicable items, less those of a row that already has an event waiting (they wait behind it,
 * so the row's events still apply in order).
 */
async function behindWaiting(
  client: PoolClient,
  definition: ProjectionDefinition<unknown>,
  items: BatchItem[],
): Promise<{ ready: BatchItem[]; waiting: Waiting[] }> {
  const applicable = items.filter((item) => item.decoded.kind === 'apply');
  if (!definition.retryOrderingConflicts) return { ready: applicable, waiting: [] };
  const keys = await waitingKeys(client, definition.name);
  if (keys.size === 0) return { ready: applicable, waiting: [] };
  const behind = (item: BatchItem) => keys.has(waitingKey(item.record.topic, item.record.key));
  return {
    ready: applicable.filter((item) => !behind(item)),
    waiting: applicable.filter(behind).map((item) => setAside(definition, item, 'an earlier event of the same row is waiting')),
  };
}

/** An event set aside to wait, stored like a quarantined one (sensitive fields left out; ordering-wait.ts keeps them). */
const setAside = (definition: ProjectionDefinition<unknown>, item: BatchItem, reason: string): Quarantined =>
  quarantined(definition, item.record, reason, safeJson(item.record.value));

/** A foreign key or unique index refused the write: the other row's event may not have arrived yet. */
export function isOrderingConflict(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === '23503' || code === '23505';
}

/** The items with the operations the projection's beforeWrite step returns for them (if it has one). */
export async function prepareItems(
  client: PoolClient,
  definition: ProjectionDefinition<unknown>,
  items: BatchItem[],
): Promise<BatchItem[]> {
  if (!definition.beforeWrite || items.length === 0) return items;
  const events = items.map((item) => {
    if (item.decoded.kind !== 'apply') throw new Error('only applicable items are prepared');
    return { event: item.decoded.event, operations: item.decoded.operations };
  });
  const operations = await definition.beforeWrite(client, definition.schema, events);
  return items.map((item, index) => ({
    record: item.record,
    decoded: { ...(item.decoded as Extract<BatchItem['decoded'], { kind: 'apply' }>), operations: operations[index] },
  }));
}

async function finish(
  client: PoolClient,
  definition: ProjectionDefinition<unknown>,
  quarantined: Quarantined[],
  waiting: Quarantined[],
  checkpoints: Checkpoint[],
  beforeCommit?: (client: PoolClient, quarantined: Quarantined[]) => Promise<void>,
) {
  for (const [entry, status] of [
    ...quarantined.map((entry) => [entry, 'quarantined'] as const),
    ...waiting.map((entry) => [entry, 'waiting'] as const),
  ]) {
    await addToQuarantine(client, {
      status,
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

