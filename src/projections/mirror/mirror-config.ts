import { z } from 'zod';

const sourceTable = z.string().regex(/^[^.\s]+\.[^.\s]+$/, 'must be schema.table');
const targetName = z.string().min(1).max(63, 'at most 63 characters (a PostgreSQL name)');

/** One mirrored table: "schema.table", or the long form with a new name, renames, exclusions and a row filter. */
export const mirrorTableSchema = z.union([
  sourceTable,
  z.strictObject({
    from: sourceTable,
    /** The target table's name (default: the source table's). */
    to: targetName.optional(),
    /** Source column -> target column. */
    columns: z.record(z.string(), targetName).optional(),
    /** Source columns left out. */
    exclude: z.array(z.string().min(1)).optional(),
    /** A SQL boolean over the source columns: only rows for which it is true are mirrored. */
    where: z.string().min(1).optional(),
  }),
]);

export const mirrorSchema = z.strictObject({
  /** The target schema (default: the source tables' schema, when they share one). */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL identifier (letters, digits, _; at most 63)')
    .optional(),
  tables: z.array(mirrorTableSchema).min(1, 'list at least one table'),
});

export type MirrorConfig = z.infer<typeof mirrorSchema>;
export type MirrorTableConfig = z.infer<typeof mirrorTableSchema>;

/** A table entry in its long form, every option present. */
export interface MirrorTableMapping {
  from: string;
  to: string;
  /** Source column -> target column, only the renamed ones. */
  columns: Record<string, string>;
  exclude: string[];
  where: string | null;
}

export function normalizeTable(entry: MirrorTableConfig): MirrorTableMapping {
  if (typeof entry === 'string') return { from: entry, to: entry.split('.')[1], columns: {}, exclude: [], where: null };
  return {
    from: entry.from,
    to: entry.to ?? entry.from.slice(entry.from.indexOf('.') + 1),
    columns: entry.columns ?? {},
    exclude: entry.exclude ?? [],
    where: entry.where ?? null,
  };
}

/** Where the mirror writes: its own schema, or the one schema its source tables share. Null when that is ambiguous. */
export function mirrorTargetSchema(config: MirrorConfig): string | null {
  if (config.schema) return config.schema;
  const schemas = new Set(config.tables.map((entry) => normalizeTable(entry).from.split('.')[0]));
  return schemas.size === 1 ? [...schemas][0] : null;
}
