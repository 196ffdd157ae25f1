import { Client, type Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import { FailbackRefusedError } from '../../shared/errors';
import { failbackNames } from '../../contracts/failback-names';
import { ensureFailbackSchema } from '../../connectors/postgres-legacy/failback-schema';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import { failbackStore, type FailbackRecord } from '../../connectors/postgres-target/failback-repository';
import { qualified } from '../../connectors/postgres-target/sql';
import { ensurePublication, type SourceTable } from '../../connectors/postgres-source/source-catalog';
import { readSlot } from '../../connectors/postgres-source/replication-slot';
import { formatLsn } from '../../shared/lsn';
import { quoteIdent } from '../../connectors/postgres-source/session';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';

/** "schema.table" of every target table the projections carry back. */
export function failbackTables(definitions: ProjectionDefinition<unknown>[]): string[] {
  return definitions.flatMap((definition) => definition.invert!.tables.map((table) => `${definition.schema}.${table}`));
}

/**
 * Prepares the target for failback capture, before the application switches to it: the tables
 * carried back log whole old rows (REPLICA IDENTITY FULL: an inverse needs the old row's source
 * key, and unchanged TOASTed values are sent), the publication lists them, and the slot exists,
 * so that no write after this moment is missed. Idempotent; returns where the slot starts.
 */
export async function prepareTargetCapture(client: Client, slot: string, publication: string, definitions: ProjectionDefinition<unknown>[]): Promise<string> {
  const tables = definitions.flatMap((definition) => definition.invert!.tables.map((table) => ({ schema: definition.schema, table })));
  for (const { schema, table } of tables) {
    await client.query(`ALTER TABLE ${qualified(schema, table)} REPLICA IDENTITY FULL`);
    await applicationDefaults(client, schema, table);
  }
  await ensurePublication(client, publication, tables as SourceTable[]);
  const existing = await readSlot(client, slot);
  if (existing.exists) return existing.confirmedFlushLsn === null ? '0/0' : formatLsn(existing.confirmedFlushLsn);
  const { rows } = await client.query<{ lsn: string }>("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
  return rows[0].lsn;
}

/**
 * Rows the application writes after the cutover come from no source event: Tandem's bookkeeping
 * columns get defaults so that the application need not know them.
 */
async function applicationDefaults(client: Client, schema: string, table: string): Promise<void> {
  const { rows } = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name IN ('_source_key', '_source_lsn')`,
    [schema, table],
  );
  const defaults: Record<string, string> = { _source_key: "'application'", _source_lsn: '0' };
  for (const { column_name } of rows) {
    await client.query(`ALTER TABLE ${qualified(schema, table)} ALTER COLUMN ${quoteIdent(column_name)} SET DEFAULT ${defaults[column_name]}`);
  }
}

/**
 * Drops what prepareTargetCapture created (the slot first: it holds WAL). A failback capture still
 * streaming from the slot is disconnected (it then stops: its slot is gone).
 */
export async function dropTargetCapture(client: Client, slot: string, publication: string): Promise<void> {
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
  await client.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`);
}


/**
 * Makes a committed (or committing) cutover's projections fail back: target capture prepared,
 * failback's tables and replication origins in the legacy database, the failback recorded. With
 * `requireAll`, a projection without an inverse refuses it by name; without, such projections are
 * left out (the cutover commit carries back what it can). Null when none has an inverse.
 */
export async function prepareFailback(
  config: TandemConfig,
  pool: Pool,
  cutover: { id: number; projections: string[] },
  operator: string,
  options: { requireAll: boolean },
): Promise<FailbackRecord | null> {
  const definitions = (await resolveProjectionDefinitions(config, undefined, pool)).filter((definition) => cutover.projections.includes(definition.name));
  const without = definitions.filter((definition) => !definition.invert);
  if (options.requireAll && without.length > 0) {
    throw new FailbackRefusedError(
      `failback: projection(s) ${without.map((d) => d.name).join(', ')} declare no inverse (invert), so their target writes cannot flow back to the legacy tables`,
    );
  }
  const carried = definitions.filter((definition) => definition.invert);
  if (carried.length === 0) return null;
  const names = failbackNames(config.kafka.topicPrefix, config.source.slot, config.source.publication);
  const startLsn = await withClient(config.target!.url, (client) => prepareTargetCapture(client, names.slot, names.publication, carried));
  await withClient(config.source.url, async (client) => {
    for (const definition of carried) await ensureFailbackSchema(client, names.origin(definition.name));
  });
  return failbackStore.record(pool, {
    cutoverId: cutover.id,
    projections: carried.map((definition) => definition.name),
    slot: names.slot,
    publication: names.publication,
    startLsn,
    operator,
  });
}

export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: 'tandem-failback' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
