import type { ClientBase } from 'pg';
import { qualifiedName } from './session';
import { splitTableName } from './source-catalog';

/**
 * The signal table: how `tandem backfill` talks to the running capture, and where capture writes the
 * watermarks of each backfill chunk. Its rows travel through the replication stream like any
 * change, so a signal sits at an exact place in the order of the source's commits (Debezium's
 * signalling table does the same). Capture creates it and adds it to its publication; its changes
 * are never produced to Kafka.
 */
export type SignalType = 'backfill' | 'backfill-cancel' | 'window-open' | 'window-close';

export interface Signal {
  id: string;
  type: SignalType;
  /** JSON; always holds the `slot` the signal is for (several captures may share a database). */
  data: Record<string, unknown>;
}

export async function ensureSignalTable(client: ClientBase, name: string): Promise<void> {
  const { schema, table } = splitTableName(name);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${qualifiedName(schema, table)} (
       id text PRIMARY KEY,
       type text NOT NULL,
       data jsonb NOT NULL,
       progress jsonb,
       created_at timestamptz NOT NULL DEFAULT now())`,
  );
}

export async function signalTableExists(client: ClientBase, name: string): Promise<boolean> {
  const { schema, table } = splitTableName(name);
  const { rows } = await client.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [qualifiedName(schema, table)]);
  return rows[0].found;
}

export async function writeSignal(client: ClientBase, name: string, signal: Signal): Promise<void> {
  const { schema, table } = splitTableName(name);
  await client.query(`INSERT INTO ${qualifiedName(schema, table)} (id, type, data) VALUES ($1, $2, $3)`, [
    signal.id,
    signal.type,
    JSON.stringify(signal.data),
  ]);
}

export async function deleteSignals(client: ClientBase, name: string, ids: string[]): Promise<void> {
  const { schema, table } = splitTableName(name);
  await client.query(`DELETE FROM ${qualifiedName(schema, table)} WHERE id = ANY($1::text[])`, [ids]);
}

/** Progress shown by `tandem status` and `backfill --list`; informative only (capture resumes from Kafka). */
export async function writeProgress(client: ClientBase, name: string, id: string, progress: Record<string, unknown>): Promise<void> {
  const { schema, table } = splitTableName(name);
  await client.query(`UPDATE ${qualifiedName(schema, table)} SET progress = $2 WHERE id = $1`, [id, JSON.stringify(progress)]);
}

export interface BackfillRequestRow {
  id: string;
  data: Record<string, unknown>;
  progress: Record<string, unknown> | null;
  createdAt: Date;
}

/** The backfill requests of one slot, oldest first. */
export async function readBackfillRequests(client: Pick<ClientBase, 'query'>, name: string, slot: string): Promise<BackfillRequestRow[]> {
  const { schema, table } = splitTableName(name);
  const { rows } = await client.query<{ id: string; data: Record<string, unknown>; progress: Record<string, unknown> | null; created_at: Date }>(
    `SELECT id, data, progress, created_at FROM ${qualifiedName(schema, table)}
      WHERE type = 'backfill' AND data->>'slot' = $1 ORDER BY created_at, id`,
    [slot],
  );
  return rows.map((row) => ({ id: row.id, data: row.data, progress: row.progress, createdAt: row.created_at }));
}

/** Reads a signal from the text values of a streamed row of the signal table; null when it is not one. */
export function parseSignal(row: Record<string, unknown>): Signal | null {
  const { id, type, data } = row;
  if (typeof id !== 'string' || typeof type !== 'string' || typeof data !== 'string') return null;
  if (!['backfill', 'backfill-cancel', 'window-open', 'window-close'].includes(type)) return null;
  try {
    const parsed = JSON.parse(data) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    return { id, type: type as SignalType, data: parsed as Record<string, unknown> };
  } catch {
    return null;
  }
}
