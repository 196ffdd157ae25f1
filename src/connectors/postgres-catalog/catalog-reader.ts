import { Client } from 'pg';
import { withTransaction } from '../../shared/transaction';

/**
 * A read-only snapshot of a PostgreSQL database's schema, as `tandem schema-diff` compares it:
 * per schema its tables, each with columns (format_type, nullability, default), indexes
 * (pg_get_indexdef, as pg_indexes shows them) and constraints (pg_get_constraintdef).
 *
 * Everything is read in one REPEATABLE READ, READ ONLY transaction with an empty search_path, so
 * every name in a definition or type is schema-qualified the same way on both databases (and can be
 * mapped from a legacy schema to a target schema). System schemas, Tandem's own `tandem` schema and
 * tables that belong to an extension are never read.
 */

export interface CatalogColumn {
  name: string;
  /** format_type(): e.g. "character varying(255)", "timestamp with time zone", "public.vector(1024)". */
  type: string;
  nullable: boolean;
  /** The default expression, "GENERATED … AS IDENTITY" or "GENERATED ALWAYS AS (…) STORED"; null when none. */
  default: string | null;
  position: number;
}

export interface CatalogIndex {
  name: string;
  /** pg_get_indexdef(): "CREATE [UNIQUE] INDEX name ON schema.table USING method (…) [WHERE …]". */
  definition: string;
  unique: boolean;
  /** The constraint this index enforces (primary key, unique, exclusion), if any: then the constraint is what is compared. */
  constraint: string | null;
}

export type ConstraintType = 'primary key' | 'unique' | 'foreign key' | 'check' | 'exclusion';

export interface CatalogConstraint {
  name: string;
  type: ConstraintType;
  /** pg_get_constraintdef(): e.g. "FOREIGN KEY (user_id) REFERENCES app.users(id) ON DELETE CASCADE". */
  definition: string;
}

export interface CatalogTable {
  schema: string;
  name: string;
  /** The table's qualified name as PostgreSQL spells it in definitions (quote_ident each part). */
  qualified: string;
  partitioned: boolean;
  columns: CatalogColumn[];
  indexes: CatalogIndex[];
  constraints: CatalogConstraint[];
}

export interface CatalogSchema {
  name: string;
  /** quote_ident(name): how definitions spell it. */
  quoted: string;
}

export interface Catalog {
  /** current_database(). */
  database: string;
  /** server_version. */
  serverVersion: string;
  schemas: CatalogSchema[];
  tables: CatalogTable[];
}

/** Schemas never compared: PostgreSQL's own and Tandem's state. */
export const EXCLUDED_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast', 'tandem'] as const;

/** True for PostgreSQL's system schemas (including per-session temp and toast schemas) and `tandem`. */
export function isExcludedSchema(name: string): boolean {
  return (EXCLUDED_SCHEMAS as readonly string[]).includes(name) || /^pg_(toast_)?temp_\d+$/.test(name) || name === 'pg_toast';
}

const CONSTRAINT_TYPES: Record<string, ConstraintType> = {
  p: 'primary key',
  u: 'unique',
  f: 'foreign key',
  c: 'check',
  x: 'exclusion',
};

export interface ReadCatalogOptions {
  /** Only these schemas (default: every schema but the excluded ones). */
  schemas?: string[];
  /** Shown in the connection's application_name. */
  applicationName?: string;
}

/** Reads the catalog of the database at `url`. */
export async function readCatalog(url: string, options: ReadCatalogOptions = {}): Promise<Catalog> {
  const client = new Client({ connectionString: url, application_name: options.applicationName ?? 'tandem-schema-diff' });
  await client.connect();
  try {
    return await readCatalogWith(client, options);
  } finally {
    await client.end();
  }
}

/** Reads the catalog through an open connection (its search_path is emptied for the duration of one read-only transaction). */
export async function readCatalogWith(client: Client, options: ReadCatalogOptions = {}): Promise<Catalog> {
  const { info, schemaRows, tableRows, columnRows, indexRows, constraintRows } = await withTransaction(
    client,
    async () => {
      // Empty search_path (pg_catalog is still searched implicitly): definitions and types name every
      // other schema, the same way on both databases.
      await client.query(`SELECT set_config('search_path', '', true)`);
      const requested = options.schemas?.filter((name) => !isExcludedSchema(name)) ?? null;
      const { rows: info } = await client.query<{ database: string; version: string }>(
        `SELECT current_database() AS database, current_setting('server_version') AS version`,
      );
      const { rows: schemaRows } = await client.query<{ name: string; quoted: string }>(
        `SELECT n.nspname AS name, quote_ident(n.nspname) AS quoted
           FROM pg_namespace n
          WHERE n.nspname <> ALL ($1::text[])
            AND n.nspname NOT LIKE 'pg\\_%'
            AND ($2::text[] IS NULL OR n.nspname = ANY ($2::text[]))
            -- schemas created by an extension are the extension's, not the application's
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
          ORDER BY n.nspname COLLATE "C"`,
        [EXCLUDED_SCHEMAS, requested],
      );
      const schemaNames = schemaRows.map((row) => row.name);

      const { rows: tableRows } = await client.query<{ oid: number; schema: string; name: string; qualified: string; partitioned: boolean }>(
        `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name,
                quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified, c.relkind = 'p' AS partitioned
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY ($1::text[])
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
          ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
        [schemaNames],
      );
      const oids = tableRows.map((row) => row.oid);

      const { rows: columnRows } = await client.query<{
        table: number;
        name: string;
        type: string;
        not_null: boolean;
        default: string | null;
        identity: string;
        generated: string;
        position: number;
      }>(
        `SELECT a.attrelid::int AS "table", a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS "default",
                a.attidentity AS identity, a.attgenerated AS generated, a.attnum::int AS position
           FROM pg_attribute a
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attrelid, a.attnum`,
        [oids],
      );
      const { rows: indexRows } = await client.query<{ table: number; name: string; definition: string; unique: boolean; constraint: string | null }>(
        `SELECT i.indrelid::int AS "table", ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
                i.indisunique AS unique,
                (SELECT con.conname FROM pg_constraint con
                  WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
                  LIMIT 1) AS "constraint"
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
          WHERE i.indrelid = ANY ($1::oid[])
          ORDER BY ic.relname COLLATE "C"`,
        [oids],
      );
      const { rows: constraintRows } = await client.query<{ table: number; name: string; type: string; definition: string }>(
        `SELECT con.conrelid::int AS "table", con.conname AS name, con.contype::text AS type,
                pg_get_constraintdef(con.oid) AS definition
           FROM pg_constraint con
          WHERE con.conrelid = ANY ($1::oid[]) AND con.contype IN ('p', 'u', 'f', 'c', 'x')
          ORDER BY con.conname COLLATE "C"`,
        [oids],
      );
      return { info, schemaRows, tableRows, columnRows, indexRows, constraintRows };
    },
    { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' },
  );
  const tables = new Map<number, CatalogTable>(
    tableRows.map((row) => [
      row.oid,
      { schema: row.schema, name: row.name, qualified: row.qualified, partitioned: row.partitioned, columns: [], indexes: [], constraints: [] },
    ]),
  );
  for (const row of columnRows) {
    tables.get(row.table)?.columns.push({
      name: row.name,
      type: row.type,
      nullable: !row.not_null,
      default: columnDefault(row),
      position: row.position,
    });
  }
  for (const row of indexRows) {
    tables.get(row.table)?.indexes.push({ name: row.name, definition: row.definition, unique: row.unique, constraint: row.constraint });
  }
  for (const row of constraintRows) {
    tables.get(row.table)?.constraints.push({ name: row.name, type: CONSTRAINT_TYPES[row.type], definition: row.definition });
  }
  return { database: info[0].database, serverVersion: info[0].version, schemas: schemaRows, tables: [...tables.values()] };
}

function columnDefault(row: { default: string | null; identity: string; generated: string }): string | null {
  if (row.identity === 'a') return 'GENERATED ALWAYS AS IDENTITY';
  if (row.identity === 'd') return 'GENERATED BY DEFAULT AS IDENTITY';
  if (row.generated === 's') return `GENERATED ALWAYS AS (${row.default}) STORED`;
  return row.default;
}
