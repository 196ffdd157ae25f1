import type { ClientBase } from 'pg';
import { SourcePreconditionError } from '../../shared/errors';
import { keyKindOf, type KeyKind } from './key-range';
import { qualifiedName, quoteIdent } from './session';
import type { TypeRegistry } from './pg-types';

export interface SourceColumn {
  name: string;
  typeOid: number;
  typeName: string;
  /** format_type(): the SQL type, for casts of key bounds. */
  sqlType: string;
}

export interface SourceTable {
  schema: string;
  table: string;
  columns: SourceColumn[];
  keyColumns: string[];
  /** null when a key column's ordering cannot be reproduced exactly, so the table is read as one chunk. */
  keyKinds: KeyKind[] | null;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
}

export function tableName(table: { schema: string; table: string }): string {
  return `${table.schema}.${table.table}`;
}

export function splitTableName(name: string): { schema: string; table: string } {
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: 'public', table: name } : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
}

/** Checks what capture needs from the source: logical WAL, replication privilege, and a key on every table. */
export async function checkSourcePreconditions(client: ClientBase): Promise<void> {
  const { rows } = await client.query<{ wal_level: string; can_replicate: boolean }>(
    `SELECT current_setting('wal_level') AS wal_level,
            (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_replicate`,
  );
  if (rows[0].wal_level !== 'logical') {
    throw new SourcePreconditionError(
      `source wal_level is "${rows[0].wal_level}"; capture needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL)`,
    );
  }
  if (!rows[0].can_replicate) {
    throw new SourcePreconditionError(
      'the source role has no REPLICATION privilege (ALTER ROLE <role> WITH REPLICATION)',
    );
  }
}

export async function describeTables(client: ClientBase, names: string[], types: TypeRegistry): Promise<SourceTable[]> {
  const tables: SourceTable[] = [];
  for (const name of names) {
    const { schema, table } = splitTableName(name);
    const relation = await client.query<{ oid: number; relreplident: string; can_select: boolean }>(
      `SELECT c.oid, c.relreplident, has_table_privilege(c.oid, 'SELECT') AS can_select
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [schema, table],
    );
    if (relation.rowCount === 0) throw new SourcePreconditionError(`source table ${name} does not exist`);
    const { oid, relreplident, can_select } = relation.rows[0];
    if (!can_select) throw new SourcePreconditionError(`the source role cannot SELECT from ${name} (GRANT SELECT ON ${name} TO <role>)`);

    const columns = await client.query<{ name: string; type_oid: number; type_name: string; sql_type: string; is_key: boolean; key_position: number | null }>(
      `SELECT a.attname AS name, a.atttypid::int AS type_oid, t.typname AS type_name,
              format_type(a.atttypid, a.atttypmod) AS sql_type,
              array_position(i.indkey::int2[], a.attnum) IS NOT NULL AS is_key,
              array_position(i.indkey::int2[], a.attnum) AS key_position
         FROM pg_attribute a
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [oid],
    );
    for (const column of columns.rows) types.learn(column.type_oid, column.type_name);
    const keyColumns = columns.rows
      .filter((column) => column.is_key)
      .sort((a, b) => (a.key_position ?? 0) - (b.key_position ?? 0))
      .map((column) => column.name);
    const identities: Record<string, SourceTable['replicaIdentity']> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };
    const replicaIdentity = identities[relreplident] ?? 'default';
    if (keyColumns.length === 0 && replicaIdentity !== 'full') {
      throw new SourcePreconditionError(
        `source table ${name} has no primary key and its replica identity is not FULL, so updates and deletes cannot be captured; ` +
          `add a primary key or run ALTER TABLE ${qualifiedName(schema, table)} REPLICA IDENTITY FULL`,
      );
    }
    const keyKinds = keyColumns.map((key) => keyKindOf(columns.rows.find((c) => c.name === key)!.type_name));
    tables.push({
      schema,
      table,
      columns: columns.rows.map((c) => ({ name: c.name, typeOid: c.type_oid, typeName: c.type_name, sqlType: c.sql_type })),
      keyColumns,
      keyKinds: keyKinds.length > 0 && keyKinds.every((kind) => kind !== null) ? (keyKinds as KeyKind[]) : null,
      replicaIdentity,
    });
  }
  return tables;
}

/** Creates the publication, or adds the tables it lacks. */
export async function ensurePublication(client: ClientBase, publication: string, tables: SourceTable[]): Promise<void> {
  const existing = await client.query<{ schemaname: string; tablename: string }>(
    'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1',
    [publication],
  );
  const exists = (await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication])).rowCount! > 0;
  const list = (items: SourceTable[]) => items.map((t) => qualifiedName(t.schema, t.table)).join(', ');
  if (!exists) {
    await client.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${list(tables)}`);
    return;
  }
  const present = new Set(existing.rows.map((row) => `${row.schemaname}.${row.tablename}`));
  const missing = tables.filter((table) => !present.has(tableName(table)));
  if (missing.length > 0) await client.query(`ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLE ${list(missing)}`);
}
