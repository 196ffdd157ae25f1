import type { Client, ClientBase } from 'pg';
import { ensurePublication, type SourceTable } from '../postgres-source/source-catalog';
import { readSlot } from '../postgres-source/replication-slot';
import { formatLsn } from '../../shared/lsn';
import { withTransaction } from '../../shared/transaction';
import { ident, qualified } from './sql';

export interface TargetTable {
  schema: string;
  table: string;
}

/** Tandem's bookkeeping columns and the defaults failback gives them (the application need not know them). */
const APPLICATION_DEFAULTS: Record<string, string> = { _source_key: "'application'", _source_lsn: '0' };

/**
 * Prepares the target for failback capture, before the application switches to it: the tables
 * carried back log whole old rows (REPLICA IDENTITY FULL: an inverse needs the old row's source
 * key, and unchanged TOASTed values are sent), Tandem's bookkeeping columns get defaults (rows the
 * application writes come from no source event), the publication lists the tables, and the slot
 * exists, so that no write after this moment is missed. Each table setting failback changes is
 * recorded with its previous value (tandem.failback_table_changes) in the transaction that changes
 * it, so dropTargetCapture restores exactly that. Idempotent; returns where the slot starts.
 */
export async function prepareTargetCapture(client: Client, slot: string, publication: string, tables: TargetTable[]): Promise<string> {
  for (const table of tables) await prepareTable(client, publication, table);
  await ensurePublication(client, publication, tables as SourceTable[]);
  const existing = await readSlot(client, slot);
  if (existing.exists) return existing.confirmedFlushLsn === null ? '0/0' : formatLsn(existing.confirmedFlushLsn);
  const { rows } = await client.query<{ lsn: string }>("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
  return rows[0].lsn;
}

async function prepareTable(client: ClientBase, publication: string, { schema, table }: TargetTable): Promise<void> {
  const name = qualified(schema, table);
  await withTransaction(client, async () => {
    const [{ relid, identity, index }] = (
      await client.query<{ relid: string; identity: string; index: string | null }>(
        `SELECT c.oid::int8 AS relid, c.relreplident AS identity,
                (SELECT i.indexrelid::int8 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS index
           FROM pg_class c WHERE c.oid = $1::regclass`,
        [name],
      )
    ).rows;
    if (identity !== 'f') {
      await record(client, publication, relid, 'replica identity', 'f', identity === 'i' ? `i:${index}` : identity);
      await client.query(`ALTER TABLE ${name} REPLICA IDENTITY FULL`);
    }
    for (const { column, current } of await bookkeepingDefaults(client, relid)) {
      await client.query(`ALTER TABLE ${name} ALTER COLUMN ${ident(column)} SET DEFAULT ${APPLICATION_DEFAULTS[column]}`);
      const applied = (await bookkeepingDefaults(client, relid)).find((d) => d.column === column)!.current!;
      if (applied !== current) await record(client, publication, relid, `default of ${column}`, applied, current);
    }
  });
}

async function bookkeepingDefaults(client: ClientBase, relid: string): Promise<Array<{ column: string; current: string | null }>> {
  const { rows } = await client.query<{ column: string; current: string | null }>(
    `SELECT a.attname AS column, pg_get_expr(d.adbin, d.adrelid) AS current
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::oid AND a.attname = ANY($2) AND NOT a.attisdropped`,
    [relid, Object.keys(APPLICATION_DEFAULTS)],
  );
  return rows;
}

/** The first change of a setting is kept: preparing again must not take failback's own value for the previous one. */
async function record(client: ClientBase, publication: string, relid: string, setting: string, applied: string, previous: string | null): Promise<void> {
  await client.query(
    `INSERT INTO tandem.failback_table_changes (publication, relid, setting, applied, previous) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (publication, relid, setting) DO NOTHING`,
    [publication, relid, setting, applied, previous],
  );
}

/**
 * Undoes what prepareTargetCapture set up, whichever way failback ends (stop, rollback, a replay
 * that replaced the tables): the slot first (it holds WAL; a failback capture still streaming from
 * it is disconnected, and then stops), then every table setting failback changed is restored on
 * that table, wherever it is now (by its oid: a replay moves the replaced tables to a backup
 * schema) and only if it still has failback's value, then the publication. Idempotent: each step
 * finds its work done after a crash or on a second run.
 */
export async function dropTargetCapture(client: ClientBase, slot: string, publication: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { rows } = await client.query<{ pid: number | null }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()',
      [slot],
    );
    if (rows.length === 0) break;
    if (rows[0].pid === null) {
      await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
      break;
    }
    if (attempt > 50) throw new Error(`replication slot ${slot} stays in use by process ${rows[0].pid}`);
    await client.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await restoreTables(client, publication);
  await client.query(`DROP PUBLICATION IF EXISTS ${ident(publication)}`);
}

async function restoreTables(client: ClientBase, publication: string): Promise<void> {
  await withTransaction(client, async () => {
    const { rows } = await client.query<{ relid: string; setting: string; applied: string; previous: string | null; name: string | null }>(
      `SELECT ch.relid::int8 AS relid, ch.setting, ch.applied, ch.previous, format('%I.%I', n.nspname, c.relname) AS name
         FROM tandem.failback_table_changes ch
         LEFT JOIN pg_class c ON c.oid = ch.relid LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE ch.publication = $1 FOR UPDATE OF ch`,
      [publication],
    );
    for (const change of rows) {
      if (change.name !== null) await restore(client, change as typeof change & { name: string });
      await client.query('DELETE FROM tandem.failback_table_changes WHERE publication = $1 AND relid = $2 AND setting = $3', [publication, change.relid, change.setting]);
    }
  });
}

/** Puts one setting back, unless someone changed it since failback set it (theirs is kept). */
async function restore(client: ClientBase, change: { relid: string; setting: string; applied: string; previous: string | null; name: string }): Promise<void> {
  if (change.setting === 'replica identity') {
    const [{ identity }] = (await client.query<{ identity: string }>('SELECT relreplident AS identity FROM pg_class WHERE oid = $1::oid', [change.relid])).rows;
    if (identity !== change.applied) return;
    const previous = change.previous!;
    if (previous.startsWith('i:')) {
      const { rows } = await client.query<{ index: string }>('SELECT relname AS index FROM pg_class WHERE oid = $1::oid', [previous.slice(2)]);
      await client.query(`ALTER TABLE ${change.name} REPLICA IDENTITY ${rows.length > 0 ? `USING INDEX ${ident(rows[0].index)}` : 'DEFAULT'}`);
    } else {
      await client.query(`ALTER TABLE ${change.name} REPLICA IDENTITY ${{ d: 'DEFAULT', n: 'NOTHING', f: 'FULL' }[previous]}`);
    }
    return;
  }
  const column = change.setting.replace(/^default of /, '');
  const current = (await bookkeepingDefaults(client, change.relid)).find((d) => d.column === column)?.current;
  if (current !== change.applied) return;
  await client.query(
    `ALTER TABLE ${change.name} ALTER COLUMN ${ident(column)} ${change.previous === null ? 'DROP DEFAULT' : `SET DEFAULT ${change.previous}`}`,
  );
}
