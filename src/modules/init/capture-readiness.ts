import type { Client } from 'pg';
import { qualifiedName } from '../../connectors/postgres-source/session';
import { withTransaction } from '../../shared/transaction';

/**
 * What capture needs from the source, read (never changed) for `tandem init`: the same conditions
 * capture checks at start-up (source-catalog.ts), reported all at once with the fix for each.
 */

export interface TableReadiness {
  schema: string;
  name: string;
  /** Primary-key columns, in key order; empty when the table has none. */
  key: string[];
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  canSelect: boolean;
  /** A partition of another table: captured through its parent, not listed on its own. */
  partitionOf: string | null;
  /** What capture would refuse, each with the statement that fixes it. */
  problems: Problem[];
}

export interface Problem {
  reason: string;
  /** The SQL (or step) that fixes it, run by the user: Tandem never changes the source. */
  fix: string;
}

export interface SourceReadiness {
  walLevel: string;
  role: string;
  canReplicate: boolean;
  problems: Problem[];
  tables: TableReadiness[];
}

const IDENTITIES: Record<string, TableReadiness['replicaIdentity']> = { d: 'default', n: 'nothing', f: 'full', i: 'index' };

/** Reads the readiness of `tables` ("schema.table") in one read-only transaction. */
export async function readCaptureReadiness(
  client: Client,
  tables: Array<{ schema: string; name: string }>,
  publication: string,
): Promise<SourceReadiness> {
  const { settings, rows } = await withTransaction(
    client,
    async () => {
      const { rows: settings } = await client.query<{ wal_level: string; role: string; can_replicate: boolean }>(
        `SELECT current_setting('wal_level') AS wal_level, current_user AS role,
                (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS can_replicate`,
      );
      const { rows } = await client.query<{
        schema: string;
        name: string;
        identity: string;
        can_select: boolean;
        can_publish: boolean;
        partition_of: string | null;
        key: string[] | null;
      }>(
        `SELECT n.nspname AS schema, c.relname AS name, c.relreplident::text AS identity,
                has_table_privilege(c.oid, 'SELECT') AS can_select,
                -- adding a table to a publication takes its owner (or a superuser), unless it is in already
                (pg_has_role(c.relowner, 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
                  OR EXISTS (SELECT 1 FROM pg_publication_tables pt
                              WHERE pt.pubname = $3 AND pt.schemaname = n.nspname AND pt.tablename = c.relname)) AS can_publish,
                (SELECT pn.nspname || '.' || p.relname FROM pg_inherits h JOIN pg_class p ON p.oid = h.inhparent
                   JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE h.inhrelid = c.oid AND c.relispartition) AS partition_of,
                (SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey::int2[], a.attnum))
                   FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                  WHERE i.indrelid = c.oid AND i.indisprimary) AS key
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN unnest($1::text[], $2::text[]) AS wanted(schema, name) ON wanted.schema = n.nspname AND wanted.name = c.relname
          WHERE c.relkind IN ('r', 'p')
          ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`,
        [tables.map((t) => t.schema), tables.map((t) => t.name), publication],
      );
      return { settings, rows };
    },
    { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' },
  );
  const { wal_level: walLevel, role, can_replicate: canReplicate } = settings[0];
  const problems: Problem[] = [];
  if (walLevel !== 'logical')
    problems.push({ reason: `wal_level is "${walLevel}"; capture needs logical`, fix: 'ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL' });
  if (!canReplicate)
    problems.push({ reason: `the role ${role} has no REPLICATION privilege`, fix: `ALTER ROLE ${quoteRole(role)} WITH REPLICATION;` });
  return { walLevel, role, canReplicate, problems, tables: rows.map((row) => tableReadiness(row, role, publication)) };
}

function tableReadiness(
  row: { schema: string; name: string; identity: string; can_select: boolean; can_publish: boolean; partition_of: string | null; key: string[] | null },
  role: string,
  publication: string,
): TableReadiness {
  const table = qualifiedName(row.schema, row.name);
  const key = row.key ?? [];
  const replicaIdentity = IDENTITIES[row.identity] ?? 'default';
  const problems: Problem[] = [];
  if (!row.can_select) problems.push({ reason: 'no SELECT privilege (the snapshot reads it)', fix: `GRANT SELECT ON ${table} TO ${quoteRole(role)};` });
  if (!row.can_publish) {
    problems.push({
      reason: `the role ${role} does not own it, so capture cannot add it to the publication ${publication}`,
      fix: `-- as its owner: ALTER PUBLICATION ${publication} ADD TABLE ${table};   (or CREATE PUBLICATION ${publication} FOR TABLE ${table})`,
    });
  }
  if (key.length === 0 && replicaIdentity !== 'full') {
    problems.push({
      reason: 'no primary key and replica identity not FULL: its updates and deletes cannot be captured',
      fix: `ALTER TABLE ${table} REPLICA IDENTITY FULL;   -- or add a primary key`,
    });
  }
  return { schema: row.schema, name: row.name, key, replicaIdentity, canSelect: row.can_select, partitionOf: row.partition_of, problems };
}

function quoteRole(role: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(role) ? role : `"${role.replace(/"/g, '""')}"`;
}
