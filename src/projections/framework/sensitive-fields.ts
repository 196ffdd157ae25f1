import { isPlainRecord } from '../../contracts/envelope';
import type { ProjectionDefinition } from './define-projection';

/**
 * What quarantine, the dead-letter topic and `tandem dlq list` hold in place of a sensitive column's
 * value. A re-drive reads the whole event again from the change topic (quarantine keeps its topic,
 * partition and offset), so the secret is only ever where capture put it.
 */
export const LEFT_OUT = '[sensitive: left out; re-read from the change topic on redrive]';

/** Shorter values are not searched for in texts (masking every "ab" would make reasons unreadable). */
const MIN_SCRUBBED_LENGTH = 3;

/** The sensitive columns of the source table a topic carries (`<prefix>.<schema>.<table>`). */
export function sensitiveColumns(definition: ProjectionDefinition<unknown>, topic: string): readonly string[] {
  if (!definition.sensitive) return [];
  return Object.entries(definition.sensitive).flatMap(([source, columns]) =>
    topic === source || topic.endsWith(`.${source}`) ? columns : [],
  );
}

const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

/** The values of the sensitive columns in an event's before and after rows, as text. */
export function sensitiveValues(definition: ProjectionDefinition<unknown>, topic: string, event: unknown): string[] {
  const columns = sensitiveColumns(definition, topic);
  if (columns.length === 0 || !isPlainRecord(event)) return [];
  return [event.before, event.after].flatMap((row) =>
    isPlainRecord(row) ? columns.flatMap((c) => (row[c] === null || row[c] === undefined ? [] : [asText(row[c])])) : [],
  );
}

/** The sensitive values of a raw Kafka record (its value parsed only when its table has sensitive columns). */
export function sensitiveValuesOfRecord(
  definition: ProjectionDefinition<unknown>,
  record: { topic: string; value: string | null },
): string[] {
  if (record.value === null || sensitiveColumns(definition, record.topic).length === 0) return [];
  try {
    return sensitiveValues(definition, record.topic, JSON.parse(record.value));
  } catch {
    return [];
  }
}

/**
 * The event as it may be stored or shown: each sensitive column of its before and after rows
 * replaced by LEFT_OUT. An event that is not a JSON object (it did not parse) is left out whole
 * when its table has sensitive columns: nothing in it can be told apart.
 */
export function withoutSensitiveFields(definition: ProjectionDefinition<unknown>, topic: string, event: unknown): unknown {
  const columns = sensitiveColumns(definition, topic);
  if (columns.length === 0 || event === null) return event;
  if (!isPlainRecord(event)) return LEFT_OUT;
  const redact = (row: unknown) =>
    isPlainRecord(row)
      ? Object.fromEntries(
          Object.entries(row).map(([c, v]) => [c, columns.includes(c) && v !== null && v !== undefined ? LEFT_OUT : v]),
        )
      : row;
  return { ...event, before: redact(event.before), after: redact(event.after) };
}

/** Whether a stored event had sensitive values left out (a re-drive must read it again from Kafka). */
export function hasLeftOutFields(event: unknown): boolean {
  if (event === LEFT_OUT) return true;
  if (!isPlainRecord(event)) return false;
  return [event.before, event.after].some((row) => isPlainRecord(row) && Object.values(row).includes(LEFT_OUT));
}

/** A text (a rejection reason, a printed parameter) with every occurrence of the given secrets masked. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  return secrets
    .filter((secret) => secret.length >= MIN_SCRUBBED_LENGTH)
    .sort((a, b) => b.length - a.length)
    .reduce((result, secret) => result.split(secret).join('***'), text);
}
