import type { Pool } from 'pg';
import { ident } from './sql';

/**
 * Sets every sequence owned by a column of `schema` (serial and identity columns) past the highest
 * value in that column, so that the application's own inserts after a cutover do not collide with
 * copied rows. Returns "table.column" -> the value the sequence now stands at.
 */
export async function advanceSequences(pool: Pool, schema: string): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ sequence: string; table: string; column: string }>(
    `SELECT s.oid::regclass::text AS sequence, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "table", a.attname AS "column"
       FROM pg_depend d
       JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_class c ON c.oid = d.refobjid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND n.nspname = $1`,
    [schema],
  );
  const advanced: Record<string, string> = {};
  for (const row of rows) {
    const { rows: result } = await pool.query<{ value: string }>(
      `SELECT setval($1::regclass, greatest(m, (SELECT last_value FROM ${row.sequence})), true)::text AS value
         FROM (SELECT max(${ident(row.column)})::bigint AS m FROM ${row.table}) q WHERE m IS NOT NULL`,
      [row.sequence],
    );
    if (result.length > 0) advanced[`${row.table}.${row.column}`] = result[0].value;
  }
  return advanced;
}
