import type { Pool } from 'pg';
import { executeStatements, planStatements } from '../../connectors/postgres-target/row-writer';
import { listQuarantine, markRedriven, stopWaiting, waitingKey } from '../../connectors/postgres-target/quarantine-store';
import { isDataError, prepareItems, sourcedOperations } from './batch-applier';
import type { ProjectionDefinition } from './define-projection';
import { decodeRecord } from './event-decoder';
import { scrubSecrets, sensitiveValuesOfRecord, withoutSensitiveFields } from './sensitive-fields';
import { withTransaction } from '../../shared/transaction';

export interface WaitRetryResult {
  applied: number;
  /** Waited longer than allowed: now ordinary quarantined events. */
  gaveUp: number;
}

/**
 * Retries the events set aside because a row they refer to had not arrived (ProjectionDefinition.
 * retryOrderingConflicts), oldest first; the events of one row in order, stopping at the first that
 * still waits. One that has waited longer than `maxWaitMs` is quarantined with the reason.
 */
export async function retryWaiting(pool: Pool, definition: ProjectionDefinition<unknown>, topicPrefix: string, maxWaitMs: number): Promise<WaitRetryResult> {
  const entries = await listQuarantine(pool, definition.name, 'waiting');
  const blocked = new Set<string>();
  const result: WaitRetryResult = { applied: 0, gaveUp: 0 };
  for (const entry of entries) {
    const key = waitingKey(entry.topic, entry.sourceKey);
    if (blocked.has(key)) continue;
    const record = {
      topic: entry.topic,
      partition: entry.partition,
      offset: entry.offset,
      key: entry.sourceKey,
      value: typeof entry.event === 'string' ? entry.event : JSON.stringify(entry.event),
    };
    const item = { record, decoded: decodeRecord(definition, topicPrefix, record) };
    // While it waits (at most maxWaitMs) the event is kept whole, to be retried from here; once it
    // is quarantined for good, its sensitive fields are left out like any quarantined event's.
    const quarantine = (reason: string) =>
      stopWaiting(
        pool,
        entry.id,
        scrubSecrets(reason, sensitiveValuesOfRecord(definition, record)),
        withoutSensitiveFields(definition, entry.topic, entry.event),
      );
    if (item.decoded.kind !== 'apply') {
      await quarantine(item.decoded.kind === 'reject' ? item.decoded.reason : 'nothing to apply');
      continue;
    }
    try {
      await withTransaction(pool, async (client) => {
        const [prepared] = await prepareItems(client, definition, [item]);
        await executeStatements(client, planStatements(definition.name, definition.schema, sourcedOperations(prepared)));
        await markRedriven(client, entry.id);
      });
      result.applied++;
    } catch (error) {
      if (!isDataError(error)) throw error;
      blocked.add(key);
      if (Date.now() - entry.quarantinedAt.getTime() > maxWaitMs) {
        await quarantine(`waited ${Math.round(maxWaitMs / 1000)} s for the row it refers to: ${(error as Error).message}`);
        result.gaveUp++;
      }
    }
  }
  return result;
}
