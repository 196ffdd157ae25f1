import { connectNamed } from '../../shared/endpoint';
import { Client } from 'pg';
import { parseLsn, type Lsn } from '../../shared/lsn';
import { ignoreIdleErrors, quoteIdent, sourceClientConfig } from './session';

export interface SlotInfo {
  exists: boolean;
  confirmedFlushLsn: Lsn | null;
  activePid: number | null;
  retainedWalBytes: number | null;
}

export async function readSlot(client: Client, slot: string): Promise<SlotInfo> {
  const { rows } = await client.query<{ confirmed_flush_lsn: string | null; active_pid: number | null; retained: string | null; plugin: string }>(
    `SELECT confirmed_flush_lsn::text, active_pid, plugin,
            pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained
       FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
    [slot],
  );
  if (rows.length === 0) return { exists: false, confirmedFlushLsn: null, activePid: null, retainedWalBytes: null };
  const row = rows[0];
  return {
    exists: true,
    confirmedFlushLsn: row.confirmed_flush_lsn ? parseLsn(row.confirmed_flush_lsn) : null,
    activePid: row.active_pid,
    retainedWalBytes: row.retained === null ? null : Number(row.retained),
  };
}

/**
 * A slot created with an exported snapshot: while `connection` stays open and idle, other sessions
 * can read the database exactly as of `consistentLsn` with SET TRANSACTION SNAPSHOT.
 */
export interface ExportedSnapshot {
  consistentLsn: Lsn;
  snapshotName: string;
  close(): Promise<void>;
}

/**
 * Creates a logical slot (or, with `temporary`, one that disappears with its connection) and
 * exports its snapshot.
 */
export async function createSlotWithSnapshot(url: string, slot: string, temporary: boolean): Promise<ExportedSnapshot> {
  // Under a heavy concurrent write load PostgreSQL may refuse to export the snapshot
  // ("initial slot snapshot too large"); nothing was created, so trying again is safe.
  for (let attempt = 1; ; attempt++) {
    try {
      return await createSlotOnce(url, slot, temporary);
    } catch (error) {
      if (!/initial slot snapshot too large/.test((error as Error).message) || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

async function createSlotOnce(url: string, slot: string, temporary: boolean): Promise<ExportedSnapshot> {
  const connection = new Client(sourceClientConfig(url, { replication: 'database' } as never));
  ignoreIdleErrors(connection);
  await connectNamed(connection, 'source', url);
  try {
    const result = await connection.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} ${temporary ? 'TEMPORARY ' : ''}LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = result.rows[0];
    return {
      consistentLsn: parseLsn(row.consistent_point),
      snapshotName: row.snapshot_name,
      close: () => connection.end(),
    };
  } catch (error) {
    await connection.end().catch(() => undefined);
    throw error;
  }
}
