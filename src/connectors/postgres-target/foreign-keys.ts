import type { ClientBase, Pool } from 'pg';
import { ident, qualified } from './sql';

/** A foreign key of a target table: the parent table and, pair by pair, the child and parent columns. */
export interface ForeignKey {
  /** schema.table.constraint, as found. */
  id: string;
  parentSchema: string;
  parentTable: string;
  childColumns: string[];
  parentColumns: string[];
  /** The parent columns' types (format_type), to compare values read from JSON as PostgreSQL would. */
  parentTypes: string[];
}

/** The foreign key `constraint` of schema.table, or null if the table has no foreign key of that name. */
export async function findForeignKey(db: Pool | ClientBase, schema: string, table: string, constraint: string): Promise<ForeignKey | null> {
  const { rows } = await db.query<{ parent_schema: string; parent_table: string; child: string; parent: string; type: string }>(
    `SELECT pn.nspname AS parent_schema, pc.relname AS parent_table, ca.attname AS child, pa.attname AS parent,
            format_type(pa.atttypid, pa.atttypmod) AS type
       FROM pg_constraint c
       JOIN pg_class pc ON pc.oid = c.confrelid
       JOIN pg_namespace pn ON pn.oid = pc.relnamespace
       CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(child_attnum, parent_attnum, position)
       JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.child_attnum
       JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent_attnum
      WHERE c.contype = 'f' AND c.conname = $1 AND c.conrelid = to_regclass($2)
      ORDER BY k.position`,
    [constraint, qualified(schema, table)],
  );
  if (rows.length === 0) return null;
  return {
    id: `${schema}.${table}.${constraint}`,
    parentSchema: rows[0].parent_schema,
    parentTable: rows[0].parent_table,
    childColumns: rows.map((row) => row.child),
    parentColumns: rows.map((row) => row.parent),
    parentTypes: rows.map((row) => row.type),
  };
}

/** Parent key values a child row needs: one value per column of the foreign key, in its order. */
export interface ParentLookup {
  foreignKey: ForeignKey;
  key: unknown[];
}

/**
 * Which of `lookups` still find no parent row: their indexes in `lookups`. One statement for all of
 * them, whatever the number of foreign keys.
 */
export async function missingParents(db: Pool | ClientBase, lookups: ParentLookup[]): Promise<Set<number>> {
  const byForeignKey = new Map<string, { foreignKey: ForeignKey; rows: Record<string, unknown>[] }>();
  lookups.forEach(({ foreignKey, key }, index) => {
    const group = byForeignKey.get(foreignKey.id) ?? { foreignKey, rows: [] };
    group.rows.push(Object.fromEntries([['i', index], ...key.map((value, column) => [`c${column}`, value])]));
    byForeignKey.set(foreignKey.id, group);
  });
  if (byForeignKey.size === 0) return new Set();
  const values: unknown[] = [];
  const selects = [...byForeignKey.values()].map(({ foreignKey, rows }) => {
    values.push(JSON.stringify(rows));
    const columns = foreignKey.parentTypes.map((type, column) => `c${column} ${type}`).join(', ');
    const matches = foreignKey.parentColumns.map((column, index) => `p.${ident(column)} = k.c${index}`).join(' AND ');
    return `SELECT k.i FROM jsonb_to_recordset($${values.length}::jsonb) AS k(i int, ${columns})
             WHERE NOT EXISTS (SELECT 1 FROM ${qualified(foreignKey.parentSchema, foreignKey.parentTable)} p WHERE ${matches})`;
  });
  const { rows } = await db.query<{ i: number }>(selects.join('\nUNION ALL\n'), values);
  return new Set(rows.map((row) => row.i));
}
