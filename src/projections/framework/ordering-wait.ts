import type { Pool } from 'pg';
import { executeStatements, planStatements } from '../../connectors/postgres-target/row-writer';
import {
  eventsOf,
  listWaiting,
  markRedriven,
  stopWaiting,
  waitingKey,
  type QuarantineSummary,
} from '../../connectors/postgres-target/quarantine-store';
import type { LogRecord } from '../../contracts/positions';
import { isDataError, prepareItems, sourcedOperations, type BatchItem } from './batch-applier';
import type { ProjectionDefinition } from './define-projection';
import { decodeRecord } from './event-decoder';
import { hasLeftOutFields, scrubSecrets, sensitiveValuesOfRecord } from './sensitive-fields';
import { positionKey, type RecordPosition } from '../../connectors/kafka/record-reader';
import { withTransaction } from '../../shared/transaction';
import type { WaitingParents } from './waiting-parents';

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
  /** What each waiting event waits for (waiting-parents.ts): events whose parent is still missing are not tried. */
  parents: WaitingParents;
}

/**
 * Retries the events set aside because a row they refer to had not arrived (ProjectionDefinition.
 * retryOrderingConflicts), oldest first; the events of one row in order, stopping at the first that
 * still waits. An event whose parent row is known to be still missing is not tried (one statement
 * checks them all). One that has waited longer than `maxWaitMs` is quarantined with the reason.
 * Passes repeat while one applies something: a waiting event's parent may itself be a waiting event
 * the pass applied after it (a chain that arrived youngest first), and no later chunk may come to
 * set off another pass.
 */
export async function retryWaiting(
  pool: Pool,
  definition: ProjectionDefinition<unknown>,
  topicPrefix: string,
  maxWaitMs: number,
  values: WaitingValues,
): Promise<WaitRetryResult> {
  const total: WaitRetryResult = { applied: 0, gaveUp: 0 };
  for (;;) {
    const pass = await retryPass(pool, definition, topicPrefix, maxWaitMs, values);
    total.applied += pass.applied;
    total.gaveUp += pass.gaveUp;
    if (pass.applied === 0) return total;
  }
}

/** One pass of retryWaiting over the events waiting now. */
async function retryPass(
  pool: Pool,
  definition: ProjectionDefinition<unknown>,
  topicPrefix: string,
  maxWaitMs: number,
  values: WaitingValues,
): Promise<WaitRetryResult> {
  const entries = await listWaiting(pool, definition.name);
  const missing = await values.parents.stillMissing(pool, entries.map(positionKey));
  const tried = entries.filter((entry) => !missing.has(positionKey(entry)));
  const events = await eventsOf(pool, tried.map((entry) => entry.id));
  const unknown = tried.filter(
    (entry) => hasLeftOutFields(events.get(entry.id)) && !values.known.has(positionKey(entry)),
  );
  if (unknown.length > 0)
    for (const [key, value] of await values.reread(unknown)) values.known.set(key, value);
  const blocked = new Set<string>();
  const result: WaitRetryResult = { applied: 0, gaveUp: 0 };
  const waitedTooLong = (entry: QuarantineSummary) => Date.now() - entry.quarantinedAt.getTime() > maxWaitMs;
  const giveUpReason = (message: string) => `waited ${Math.round(maxWaitMs / 1000)} s for the row it refers to: ${message}`;
  const recordOf = (entry: QuarantineSummary) => {
    const event = events.get(entry.id);
    const value = hasLeftOutFields(event)
      ? values.known.get(positionKey(entry))
      : typeof event === 'string'
        ? event
        : JSON.stringify(event);
    return { topic: entry.topic, partition: entry.partition, offset: entry.offset, key: entry.sourceKey, value: value ?? null, known: value !== undefined };
  };
  const appliedTogether = await applyTogether(pool, definition, topicPrefix, entries, missing, recordOf);
  for (const entry of appliedTogether) {
    values.known.delete(positionKey(entry));
    values.parents.forget(positionKey(entry));
  }
  result.applied += appliedTogether.length;
  const done = new Set(appliedTogether.map((entry) => entry.id));
  for (const entry of entries) {
    const key = waitingKey(entry.topic, entry.sourceKey);
    if (blocked.has(key) || done.has(entry.id)) continue;
    const position = positionKey(entry);
    const event = events.get(entry.id);
    /** `record`: the event whose sensitive values `reason` must not show (null: the reason is scrubbed already). */
    const quarantine = async (reason: string, record: LogRecord | null) => {
      values.known.delete(position);
      values.parents.forget(position);
      const stored = event === undefined ? (await eventsOf(pool, [entry.id])).get(entry.id) : event;
      await stopWaiting(pool, entry.id, record ? scrubSecrets(reason, sensitiveValuesOfRecord(definition, record)) : reason, stored);
    };
    const stillMissing = missing.get(position);
    if (stillMissing !== undefined) {
      blocked.add(key);
      if (waitedTooLong(entry)) {
        await quarantine(giveUpReason(stillMissing), null);
        result.gaveUp++;
      }
      continue;
    }
    const { known, ...record } = recordOf(entry);
    if (!known) {
      await quarantine(`its sensitive fields were left out and ${entry.topic}[${entry.partition}]@${entry.offset} is no longer in Kafka`, record);
      result.gaveUp++;
      continue;
    }
    const item = { record, decoded: decodeRecord(definition, topicPrefix, record) };
    if (item.decoded.kind !== 'apply') {
      await quarantine(item.decoded.kind === 'reject' ? item.decoded.reason : 'nothing to apply', record);
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
      values.known.delete(position);
      values.parents.forget(position);
      result.applied++;
    } catch (error) {
      if (!isDataError(error)) throw error;
      blocked.add(key);
      const message = scrubSecrets((error as Error).message, sensitiveValuesOfRecord(definition, record));
      await values.parents.learn(pool, definition.schema, position, { error, message, operations: item.decoded.operations });
      if (waitedTooLong(entry)) {
        await quarantine(giveUpReason(message), null);
        result.gaveUp++;
      }
    }
  }
  return result;
}

/**
 * Tries, in one transaction, every waiting event the pass would try (oldest first, a row's events
 * in order, none behind a still-missing parent): the parents checked present, they usually all
 * apply. Returns those applied; none if any was refused (the pass then tries them one by one).
 */
async function applyTogether(
  pool: Pool,
  definition: ProjectionDefinition<unknown>,
  topicPrefix: string,
  entries: QuarantineSummary[],
  missing: Map<string, string>,
  recordOf: (entry: QuarantineSummary) => LogRecord & { known: boolean },
): Promise<QuarantineSummary[]> {
  const held = new Set<string>();
  const together: Array<{ entry: QuarantineSummary; item: BatchItem }> = [];
  for (const entry of entries) {
    const key = waitingKey(entry.topic, entry.sourceKey);
    if (held.has(key)) continue;
    const { known, ...record } = recordOf(entry);
    const decoded = known && !missing.has(positionKey(entry)) ? decodeRecord(definition, topicPrefix, record) : null;
    if (decoded?.kind !== 'apply') {
      held.add(key); // left to the one-by-one pass, with the row's later events
      continue;
    }
    together.push({ entry, item: { record, decoded } });
  }
  if (together.length < 2) return [];
  try {
    await withTransaction(pool, async (client) => {
      const prepared = await prepareItems(client, definition, together.map(({ item }) => item));
      await executeStatements(client, planStatements(definition.name, definition.schema, prepared.flatMap(sourcedOperations)));
      await markRedriven(client, together.map(({ entry }) => entry.id));
    });
    return together.map(({ entry }) => entry);
  } catch (error) {
    if (!isDataError(error)) throw error;
    return [];
  }
}
