import type { ClientBase, Pool } from 'pg';
import { applyMigrations, forgetMigrations } from '../../connectors/postgres-target/migrations';
import { replaceCheckpoints, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { ident, qualified } from '../../connectors/postgres-target/sql';
import { advanceSequences } from '../../connectors/postgres-target/sequences';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { audit } from '../../connectors/postgres-target/operator-audit';
import { endFailbackOfReplaced } from '../../connectors/postgres-target/failback-end';
import { withTransaction } from '../../shared/transaction';
import { insertBackup, nextBackupId, snapshotCheckpoints } from './backups.repository';

export const shadowSchemaOf = (schema: string, replayId: number) => `${schema}__shadow_${replayId}`;
export const backupSchemaOf = (schema: string, backupId: number) => `${schema}__backup_${backupId}`;

export async function schemaExists(db: Pool | ClientBase, schema: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return rows.length > 0;
}

/**
 * Creates `schema` from nothing with the projection's migrations (so tables, indexes, constraints,
 * views and functions are exactly the live ones). The migrations are applied under a scratch
 * projection key whose bookkeeping rows are removed afterwards: the live key's rows stay valid for
 * whichever schema ends up under the live name, as all are built from the same migrations.
 */
export async function createFromMigrations(pool: Pool, definition: ProjectionDefinition<unknown>, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
  const scratch = `${definition.name}#${schema}`;
  await applyMigrations(pool, scratch, schema, definition.migrations);
  await forgetMigrations(pool, scratch);
}

/** The projection definition writing into another schema (row-writer qualifies every name with it). */
/** The relations of `schema` of the given kinds (pg_class.relkind), by name. */
async function relationsOf(db: Pool | ClientBase, schema: string, kinds: string[]): Promise<string[]> {
  const { rows } = await db.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = ANY($2::"char"[]) ORDER BY c.relname`,
    [schema, kinds],
  );
  return rows.map((row) => row.relname);
}

export const tablesOf = (db: Pool | ClientBase, schema: string) => relationsOf(db, schema, ['r', 'p']);
export const viewsOf = (db: Pool | ClientBase, schema: string) => relationsOf(db, schema, ['v', 'm']);

export interface StateSummary {
  /** md5 over every table's rows, in a fixed order: equal state, equal hash. */
  hash: string;
  rows: Record<string, number>;
}

/** Reads every table and view of the schema (a view that cannot be read fails here) and hashes the tables. */
export async function summarize(db: Pool | ClientBase, schema: string): Promise<StateSummary> {
  const rows: Record<string, number> = {};
  const parts: string[] = [];
  for (const table of await tablesOf(db, schema)) {
    const { rows: result } = await db.query<{ n: string; h: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS h FROM ${qualified(schema, table)} t`,
    );
    rows[table] = Number(result[0].n);
    parts.push(`${table}:${result[0].h ?? ''}`);
  }
  for (const view of await viewsOf(db, schema)) {
    const { rows: result } = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(schema, view)}`);
    rows[view] = Number(result[0].n);
  }
  const { rows: hashed } = await db.query<{ h: string }>('SELECT md5($1) AS h', [parts.join('\n')]);
  return { hash: hashed[0].h, rows };
}

export interface SwapRequest {
  definition: ProjectionDefinition<unknown>;
  /** The schema to put under the live name. */
  incoming: string;
  /** The checkpoints that describe the incoming state. */
  checkpoints: Checkpoint[];
  kind: 'replay' | 'restore';
  operator: string;
  note: string;
}

/**
 * Takes ACCESS EXCLUSIVE locks on `tables` without ever waiting long while holding some of them: a
 * reader that locks the same tables in another order (a view, a join) would otherwise deadlock, and
 * PostgreSQL may choose the reader as the victim. Each attempt gives up after 50 ms, well before the
 * deadlock detector runs (deadlock_timeout, 1 s), releases what it took, and tries again.
 */
async function lockWithoutDeadlock(client: ClientBase, tables: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await client.query('SAVEPOINT tandem_swap_lock');
    try {
      await client.query(`SET LOCAL lock_timeout = '50ms'`);
      await client.query(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE`);
      await client.query(`SET LOCAL lock_timeout = 0`);
      await client.query('RELEASE SAVEPOINT tandem_swap_lock');
      return;
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT tandem_swap_lock');
      if ((error as { code?: string }).code !== '55P03' || attempt >= 600) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
    }
  }
}

/**
 * One target transaction: the live tables are locked (readers queue for a moment, and, once it
 * commits, their statements resolve the names again and read the new tables: never a half-built or
 * empty one), the live schema is renamed to a backup name and recorded in tandem.backups with the
 * checkpoints it was at, the incoming schema takes the live name, and the checkpoints are replaced.
 * Views and functions keep working: a view refers to its tables by OID, not by schema name.
 * A failback carrying the projection ends (its capture would follow the replaced tables).
 * Returns the backup id (null when there was no live schema).
 */
export async function swapIn(pool: Pool, request: SwapRequest): Promise<number | null> {
  const { definition, incoming } = request;
  const live = definition.schema;
  const backupId = await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tandem.swap:${definition.name}`]);
    let backupId: number | null = null;
    if (await schemaExists(client, live)) {
      const snapshotId = await snapshotCheckpoints(client, definition.name, `replaced by ${request.kind}`);
      backupId = await nextBackupId(client);
      const tables = await tablesOf(client, live);
      if (tables.length > 0) await lockWithoutDeadlock(client, tables.map((t) => qualified(live, t)));
      await client.query(`ALTER SCHEMA ${ident(live)} RENAME TO ${ident(backupSchemaOf(live, backupId))}`);
      await insertBackup(client, {
        id: backupId,
        projection: definition.name,
        schemaName: backupSchemaOf(live, backupId),
        kind: request.kind,
        checkpointSnapshotId: snapshotId,
        operator: request.operator,
        note: request.note,
      });
    }
    await client.query(`ALTER SCHEMA ${ident(incoming)} RENAME TO ${ident(live)}`);
    await replaceCheckpoints(client, definition.name, request.checkpoints);
    await audit(client, request.operator, `${request.kind}.swap`, definition.name, { incoming, backupId, note: request.note });
    return backupId;
  });
  // a rebuilt or restored schema's sequences start anew: past the rows again, for the application
  if (definition.advanceSequencesAtCutover) await advanceSequences(pool, live);
  await endFailbackOfReplaced(pool, definition.name, { operator: request.operator, note: request.note });
  return backupId;
}

/**
 * A copy of the live projection (structure from the migrations, rows copied in one transaction at
 * one snapshot, with its checkpoints), kept as a backup: taken before every cutover commit.
 */
export async function copyToBackup(pool: Pool, definition: ProjectionDefinition<unknown>, operator: string, note: string): Promise<number> {
  const live = definition.schema;
  const backupId = await nextBackupId(pool);
  const schema = backupSchemaOf(live, backupId);
  await createFromMigrations(pool, definition, schema);
  try {
    return await withTransaction(
      pool,
      async (client) => {
        // rows are copied in any table order: foreign keys and triggers are not fired for the copy
        await client.query('SET LOCAL session_replication_role = replica');
        for (const table of await tablesOf(client, live)) {
          const { rows: columns } = await client.query<{ attname: string; own_type: string | null; dims: number }>(
            `SELECT a.attname, CASE WHEN tn.nspname = $2 THEN coalesce(et.typname, t.typname) END AS own_type, a.attndims AS dims
               FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
               LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
               JOIN pg_namespace tn ON tn.oid = coalesce(et.typnamespace, t.typnamespace)
              WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`,
            [qualified(live, table), live],
          );
          const list = columns.map((c) => ident(c.attname)).join(', ');
          // a type of the projection's own schema (an enum) has its copy in the backup schema: cast through text
          const values = columns
            .map((c) => (c.own_type === null ? ident(c.attname) : `${ident(c.attname)}::text::${qualified(schema, c.own_type)}${'[]'.repeat(Math.max(c.dims, 0))}`))
            .join(', ');
          await client.query(`INSERT INTO ${qualified(schema, table)} (${list}) OVERRIDING SYSTEM VALUE SELECT ${values} FROM ${qualified(live, table)}`);
        }
        const snapshotId = await snapshotCheckpoints(client, definition.name, note);
        await insertBackup(client, { id: backupId, projection: definition.name, schemaName: schema, kind: 'cutover', checkpointSnapshotId: snapshotId, operator, note });
        await audit(client, operator, 'backup.take', definition.name, { backupId, schema, note });
        return backupId;
      },
      { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ' },
    );
  } catch (error) {
    await pool.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`).catch(() => undefined);
    throw error;
  }
}
