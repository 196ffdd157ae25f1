import type { Client } from 'pg';
import { rangesFromBounds, type KeyRange, type KeyTuple } from './key-range';
import { RAW_TEXT_TYPES, qualifiedName, quoteIdent } from './session';
import type { SourceTable } from './source-catalog';
import { withTransaction } from '../../shared/transaction';

/**
 * Reads tables for the initial snapshot inside an exported snapshot, by primary-key range.
 * Text keys are ordered under the "C" collation so that key-range.ts can reproduce the order.
 */
function orderTerm(table: SourceTable, column: string): string {
  const kinds = table.keyKinds;
  const index = table.keyColumns.indexOf(column);
  return kinds && kinds[index] === 'text' ? `${quoteIdent(column)} COLLATE "C"` : quoteIdent(column);
}

function keyTerms(table: SourceTable): string {
  return table.keyColumns.map((column) => orderTerm(table, column)).join(', ');
}

function boundTerms(table: SourceTable, firstParameter: number): string {
  return table.keyColumns
    .map((column, i) => {
      const sqlType = table.columns.find((c) => c.name === column)!.sqlType;
      const cast = `$${firstParameter + i}::${sqlType}`;
      return table.keyKinds?.[i] === 'text' ? `${cast} COLLATE "C"` : cast;
    })
    .join(', ');
}

/** Runs `work` in a read-only repeatable-read transaction that sees exactly the exported snapshot. */
export function inSnapshot<T>(client: Client, snapshotName: string, work: () => Promise<T>): Promise<T> {
  return withTransaction(client, work, {
    begin: `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${snapshotName.replace(/'/g, "''")}'`,
  });
}

/** Splits a table into ranges of about `chunkSize` rows; one open range when the key order is not reproducible. */
export async function planChunks(client: Client, table: SourceTable, chunkSize: number): Promise<{ ranges: KeyRange[]; rows: number }> {
  const name = qualifiedName(table.schema, table.table);
  const count = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}`);
  const rows = Number(count.rows[0].n);
  if (!table.keyKinds || rows <= chunkSize) return { ranges: [{ lower: null, upper: null }], rows };
  const keys = table.keyColumns.map(quoteIdent).join(', ');
  const result = await client.query({
    text: `SELECT ${keys} FROM (SELECT ${keys}, row_number() OVER (ORDER BY ${keyTerms(table)}) AS rn FROM ${name}) ranked
            WHERE rn % $1 = 0 ORDER BY rn`,
    values: [chunkSize],
    types: RAW_TEXT_TYPES,
    rowMode: 'array',
  });
  return { ranges: rangesFromBounds(result.rows as KeyTuple[]), rows };
}

/** The rows of one range, as arrays of text values in `table.columns` order, `batchSize` at a time. */
export async function* readRange(
  client: Client,
  table: SourceTable,
  range: KeyRange,
  batchSize: number,
): AsyncGenerator<Array<Array<string | null>>> {
  const name = qualifiedName(table.schema, table.table);
  const columns = table.columns.map((column) => quoteIdent(column.name)).join(', ');
  const conditions: string[] = [];
  const values: string[] = [];
  const keyTuple = `(${keyTerms(table)})`;
  if (range.lower) {
    conditions.push(`${keyTuple} > (${boundTerms(table, values.length + 1)})`);
    values.push(...range.lower);
  }
  if (range.upper) {
    conditions.push(`${keyTuple} <= (${boundTerms(table, values.length + 1)})`);
    values.push(...range.upper);
  }
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const order = table.keyColumns.length > 0 ? `ORDER BY ${keyTerms(table)}` : '';
  const cursor = `tandem_chunk_${Math.random().toString(36).slice(2)}`;
  await client.query({ text: `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${columns} FROM ${name} ${where} ${order}`, values });
  try {
    for (;;) {
      const batch = await client.query({ text: `FETCH ${batchSize} FROM ${cursor}`, types: RAW_TEXT_TYPES, rowMode: 'array' });
      if (batch.rows.length === 0) return;
      yield batch.rows as Array<Array<string | null>>;
    }
  } finally {
    await client.query(`CLOSE ${cursor}`).catch(() => undefined);
  }
}
