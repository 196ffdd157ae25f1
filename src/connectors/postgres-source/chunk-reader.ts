import type { Client } from 'pg';
import { ConfigError } from '../../shared/errors';
import { RAW_TEXT_TYPES, qualifiedName, quoteIdent } from './session';
import type { SourceTable } from './source-catalog';

/**
 * Reads one backfill chunk: the next `limit` rows after `after` in primary-key order (any key
 * types, composite keys too: the row comparison and ORDER BY use the key's own btree order, the
 * primary-key index's), restricted by the backfill's `where` condition.
 */
export interface ChunkQuery {
  table: SourceTable;
  /** The key of the last row of the previous chunk (text form), or null for the first chunk. */
  after: string[] | null;
  where: string | null;
  limit: number;
}

function keyList(table: SourceTable): string {
  return table.keyColumns.map(quoteIdent).join(', ');
}

function filter(query: ChunkQuery, values: unknown[]): string {
  const { table, after, where } = query;
  const conditions: string[] = [];
  if (after) {
    const bounds = table.keyColumns.map((column, i) => {
      values.push(after[i]);
      return `$${values.length}::${table.columns.find((c) => c.name === column)!.sqlType}`;
    });
    conditions.push(`(${keyList(table)}) > (${bounds.join(', ')})`);
  }
  if (where) conditions.push(`(${where})`);
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/** Rows as arrays of text values in `table.columns` order. */
export async function readChunk(client: Client, query: ChunkQuery): Promise<Array<Array<string | null>>> {
  const { table } = query;
  const values: unknown[] = [];
  const where = filter(query, values);
  values.push(query.limit);
  const columns = table.columns.map((column) => quoteIdent(column.name)).join(', ');
  const result = await client.query({
    text: `SELECT ${columns} FROM ${qualifiedName(table.schema, table.table)} ${where} ORDER BY ${keyList(table)} LIMIT $${values.length}`,
    values,
    types: RAW_TEXT_TYPES,
    rowMode: 'array',
  });
  return result.rows as Array<Array<string | null>>;
}

/** Rows left to read (after `after`, matching `where`), for the progress shown while a backfill runs. */
export async function countRemaining(client: Client, query: Omit<ChunkQuery, 'limit'>): Promise<number> {
  const values: unknown[] = [];
  const where = filter({ ...query, limit: 0 }, values);
  // A named statement goes through the extended protocol, which runs one statement only.
  const { rows } = await client.query<{ n: string }>({
    name: `tandem_backfill_count_${Math.random().toString(36).slice(2)}`,
    text: `SELECT count(*)::text AS n FROM ${qualifiedName(query.table.schema, query.table.table)} ${where}`,
    values,
  });
  return Number(rows[0].n);
}

/**
 * Checks a backfill's condition against the table before it is queued: a typo fails here, with
 * PostgreSQL's reason, instead of inside capture.
 */
export async function checkCondition(client: Client, table: SourceTable, where: string): Promise<void> {
  try {
    await client.query({
      name: `tandem_backfill_check_${Math.random().toString(36).slice(2)}`,
      text: `EXPLAIN SELECT 1 FROM ${qualifiedName(table.schema, table.table)} WHERE (${where})`,
    });
  } catch (error) {
    throw new ConfigError(`--where "${where}" is not a valid condition on ${table.schema}.${table.table}: ${(error as Error).message}`);
  }
}

/**
 * Takes the snapshot a chunk is read in (the caller has begun a REPEATABLE READ transaction), after
 * the low watermark has committed. PostgreSQL writes a commit to the WAL a moment before the
 * transaction becomes visible to new snapshots; a transaction caught in that moment would come
 * before the low watermark in the stream and yet be missing from the chunk. Such a transaction is
 * already marked committed (or aborted) while the snapshot still lists it as running, so the
 * snapshot is taken again until it lists none. (A transaction between writing its commit record and
 * marking it in the commit log cannot be told apart from one still running; that moment is shorter
 * still, and what is left of the race is the same one Debezium's and DBLog's watermarks have.)
 */
export async function takeChunkSnapshot(client: Client): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ settling: number }>(
      `SELECT count(*)::int AS settling FROM pg_snapshot_xip(pg_current_snapshot()) AS x
        WHERE pg_xact_status(x) IN ('committed', 'aborted')`,
    );
    if (rows[0].settling === 0 || attempt >= 100) return;
    await client.query('ROLLBACK');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
