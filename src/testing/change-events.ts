/**
 * Change events for projection tests, built the way capture writes them (the Debezium envelope),
 * so a test never writes an envelope by hand: insert('public.users', row), update(…), remove(…).
 */
export type TestRow = Record<string, unknown>;

export interface TestEventOptions {
  /** The Kafka key: the source primary key as an object (default: { id } when the row has an id, else none). */
  key?: Record<string, unknown> | null;
  /** The source commit LSN (default: the next one of the spec, increasing event by event). */
  commitLsn?: bigint | number;
  /** The source commit time (default: 1_700_000_000_000, 2023-11-14T22:13:20Z). */
  commitTimeMs?: number;
  /** The source transaction id ("txId:commitLsn"; default: none, as for a snapshot read). */
  transactionId?: string | null;
}

/** One source change, as a spec feeds it to the projection. */
export interface TestChangeEvent extends TestEventOptions {
  /** "schema.table" of the source row. */
  source: string;
  op: 'c' | 'u' | 'd' | 'r' | 't';
  before: TestRow | null;
  after: TestRow | null;
}

const event = (
  source: string,
  op: TestChangeEvent['op'],
  before: TestRow | null,
  after: TestRow | null,
  options: TestEventOptions,
): TestChangeEvent => {
  if (!/^[^.\s]+\.[^.\s]+$/.test(source)) throw new Error(`"${source}": a source is written "schema.table"`);
  return { source, op, before, after, ...options };
};

/** A row inserted in the legacy table (op "c"). */
export const insert = (source: string, row: TestRow, options: TestEventOptions = {}) => event(source, 'c', null, row, options);

/**
 * A row updated (op "u"). `before` is the old row when the table has REPLICA IDENTITY FULL (or the
 * key changed); omit it for the default replica identity.
 */
export const update = (source: string, row: TestRow, options: TestEventOptions & { before?: TestRow | null } = {}) => {
  const { before = null, ...rest } = options;
  return event(source, 'u', before, row, rest);
};

/**
 * A row deleted (op "d"): `before` is what capture sends, under the default replica identity the key
 * columns only. (`delete` is a reserved word in JavaScript, hence the name.)
 */
export const remove = (source: string, before: TestRow, options: TestEventOptions = {}) => event(source, 'd', before, null, options);

/** A row read by the initial snapshot or an import (op "r"). */
export const read = (source: string, row: TestRow, options: TestEventOptions = {}) => event(source, 'r', null, row, options);

/** The table truncated (op "t"). */
export const truncate = (source: string, options: TestEventOptions = {}) => event(source, 't', null, null, options);

/** The Kafka key capture would write: the given key, or { id } of the row when it has one. */
export function keyOf(event: TestChangeEvent): string | null {
  if (event.key !== undefined) return event.key === null ? null : JSON.stringify(event.key);
  const row = event.after ?? event.before;
  return row && row.id !== undefined ? JSON.stringify({ id: row.id }) : null;
}
