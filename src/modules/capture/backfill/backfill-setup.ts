import type { Client } from 'pg';
import type { TandemConfig } from '../../config/config.schema';
import type { Logger } from '../../../shared/logger';
import { describeTables, tableName, type SourceTable } from '../../../connectors/postgres-source/source-catalog';
import { ensureSignalTable, writeSignal } from '../../../connectors/postgres-source/signal-table';
import type { TypeRegistry } from '../../../connectors/postgres-source/pg-types';
import type { CaptureState } from '../capture-state';

/**
 * Creates the signal table when it is missing; returns it, for the publication. A role that may not
 * create it (PostgreSQL 15 grants no CREATE on schema public) still captures, without backfills.
 */
export async function prepareSignalTable(client: Client, config: TandemConfig, types: TypeRegistry, logger: Logger): Promise<SourceTable | null> {
  try {
    await ensureSignalTable(client, config.source.signalTable);
  } catch (error) {
    if ((error as { code?: string }).code !== '42501') throw error;
    logger.warn(
      { signalTable: config.source.signalTable, reason: (error as Error).message },
      'capture may not create the signal table: backfills are off. Create it for capture (see README, Backfill) or set source.signalTable to a schema it may write',
    );
    return null;
  }
  const [signalTable] = await describeTables(client, [config.source.signalTable], types);
  return signalTable;
}

/**
 * The tables of source.tables that capture has never read in full: added to the configuration
 * since the last run. A state from before backfills existed knows no such list; it is taken to
 * cover the configured tables.
 */
export function tablesToBackfill(config: TandemConfig, state: CaptureState): string[] {
  if (state.capturedTables === null) return [];
  return config.source.tables.filter((table) => !state.capturedTables!.includes(table));
}

/**
 * Requests a backfill of each table added to source.tables, through the signal table, after the
 * table joined the publication: its rows are read while its changes already stream. Requested
 * again after a crash, a table is backfilled once (the tracker ignores an automatic request for a
 * table it already covers).
 */
export async function requestNewTables(client: Client, config: TandemConfig, tables: string[], logger: Logger): Promise<void> {
  for (const table of tables) {
    const id = `auto:${table}:${Date.now().toString(36)}`;
    await writeSignal(client, config.source.signalTable, {
      id,
      type: 'backfill',
      data: { slot: config.source.slot, table, where: null, chunkSize: config.source.snapshot.chunkSize, origin: 'auto' },
    });
    logger.info({ table, backfill: id }, 'table added to source.tables: backfilling it while streaming');
  }
}

/** The state a fresh capture starts from covers the tables it snapshots (or, with mode never, takes as they are). */
export function withCapturedTables(state: CaptureState, tables: SourceTable[]): CaptureState {
  return state.capturedTables === null ? { ...state, capturedTables: tables.map(tableName) } : state;
}
