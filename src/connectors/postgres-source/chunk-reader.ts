import type { ClientBase } from 'pg';
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
export async function readChunk(client: ClientBase, query: ChunkQuery): Promise<Array<Array<string | null>>> {
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
export async function countRemaining(client: ClientBase, query: Omit<ChunkQuery, 'limit'>): Promise<number> {
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
export async function checkCondition(client: ClientBase, table: SourceTable, where: string): Promise<void> {
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
 * Begins the REPEATABLE READ transaction a chunk is read in, after the low watermark committed, and
 * returns the transactions its snapshot sees as running (low 32 bits of their ids, as pgoutput gives
 * them), which capture checks against the stream (BackfillTracker.committedUnseen). A snapshot that
 * lists a transaction already marked committed or aborted (one between its commit and its
 * visibility) is taken again first, so that check seldom has to drop a chunk.
 */
export async function takeChunkSnapshot(client: ClientBase): Promise<number[]> {
  for (let attempt = 0; ; attempt++) {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ xid: string; settled: boolean }>(
      `SELECT x::text AS xid, pg_xact_status(x) IN ('committed', 'aborted') AS settled
         FROM pg_snapshot_xip(pg_current_snapshot()) AS x`,
    );
    if (!rows.some((row) => row.settled) || attempt >= 100) return rows.map((row) => Number(BigInt(row.xid) % 2n ** 32n));
    await client.query('ROLLBACK');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
