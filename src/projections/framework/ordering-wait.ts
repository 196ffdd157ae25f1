import type { Pool } from 'pg';
import { executeStatements, planStatements } from '../../connectors/postgres-target/row-writer';
import {
  listQuarantine,
  markRedriven,
  stopWaiting,
  waitingKey,
} from '../../connectors/postgres-target/quarantine-store';
import { isDataError, prepareItems, sourcedOperations } from './batch-applier';
import type { ProjectionDefinition } from './define-projection';
import { decodeRecord } from './event-decoder';
import { hasLeftOutFields, scrubSecrets, sensitiveValuesOfRecord } from './sensitive-fields';
import { positionKey, type RecordPosition } from '../../connectors/kafka/record-reader';
import { withTransaction } from '../../shared/transaction';

export interface WaitRetryResult {
  applied: number;
  /** Waited longer than allowed: now ordinary quarantined events. */
  gaveUp: number;
}

/**
 * The whole values of waiting events whose sensitive fields were left out of tandem.quarantine:
 * kept in memory by the process that set them aside, else read again from the change topic once.
 */
export interface WaitingValues {
  known: Map<string, string | null>;
  reread(positions: RecordPosition[]): Promise<Map<string, string | null>>;
}

/**
 * Retries the events set aside because a row they refer to had not arrived (ProjectionDefinition.
 * retryOrderingConflicts), oldest first; the events of one row in order, stopping at the first that
 * still waits. One that has waited longer than `maxWaitMs` is quarantined with the reason.
 */
export async function retryWaiting(
  pool: Pool,
  definition: ProjectionDefinition<unknown>,
  topicPrefix: string,
  maxWaitMs: number,
  values: WaitingValues,
): Promise<WaitRetryResult> {
  const entries = await listQuarantine(pool, definition.name, 'waiting');
  const unknown = entries.filter(
    (entry) => hasLeftOutFields(entry.event) && !values.known.has(positionKey(entry)),
  );
  if (unknown.length > 0)
    for (const [key, value] of await values.reread(unknown)) values.known.set(key, value);
  const blocked = new Set<string>();
  const result: WaitRetryResult = { applied: 0, gaveUp: 0 };
  for (const entry of entries) {
    const key = waitingKey(entry.topic, entry.sourceKey);
    if (blocked.has(key)) continue;
    const value = hasLeftOutFields(entry.event)
      ? values.known.get(positionKey(entry))
      : typeof entry.event === 'string'
        ? entry.event
        : JSON.stringify(entry.event);
    const record = {
      topic: entry.topic,
      partition: entry.partition,
      offset: entry.offset,
      key: entry.sourceKey,
      value: value ?? null,
    };
    const quarantine = async (reason: string) => {
      values.known.delete(positionKey(entry));
      await stopWaiting(
        pool,
        entry.id,
        scrubSecrets(reason, sensitiveValuesOfRecord(definition, record)),
        entry.event,
      );
    };
    if (value === undefined) {
      await quarantine(
        `its sensitive fields were left out and ${entry.topic}[${entry.partition}]@${entry.offset} is no longer in Kafka`,
      );
      result.gaveUp++;
      continue;
    }
    const item = { record, decoded: decodeRecord(definition, topicPrefix, record) };
    if (item.decoded.kind !== 'apply') {
      await quarantine(item.decoded.kind === 'reject' ? item.decoded.reason : 'nothing to apply');
      continue;
    }
    try {
      await withTransaction(pool, async (client) => {
        const [prepared] = await prepareItems(client, definition, [item]);
        await executeStatements(
          client,
          planStatements(definition.name, definition.schema, sourcedOperations(prepared)),
        );
        await markRedriven(client, entry.id);
      });
      values.known.delete(positionKey(entry));
      result.applied++;
    } catch (error) {
      if (!isDataError(error)) throw error;
      blocked.add(key);
      if (Date.now() - entry.quarantinedAt.getTime() > maxWaitMs) {
        await quarantine(
          `waited ${Math.round(maxWaitMs / 1000)} s for the row it refers to: ${(error as Error).message}`,
        );
        result.gaveUp++;
      }
    }
  }
  return result;
}
