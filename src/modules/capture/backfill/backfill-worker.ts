import { randomUUID } from 'crypto';
import type { Client } from 'pg';
import { connectSource } from '../../../connectors/postgres-source/session';
import { countRemaining, readChunk, takeChunkSnapshot } from '../../../connectors/postgres-source/chunk-reader';
import { deleteSignals, writeProgress, writeSignal, type Signal } from '../../../connectors/postgres-source/signal-table';
import { keyOf, tupleToRow } from '../../../connectors/postgres-source/change-event';
import type { SourceTable } from '../../../connectors/postgres-source/source-catalog';
import type { TypeRegistry } from '../../../connectors/postgres-source/pg-types';
import type { Logger } from '../../../shared/logger';
import { currentBackfill, type Backfill } from './backfill-state';
import type { BackfillTracker } from './backfill-tracker';
import { WatermarkWindow, type ChunkRead } from './watermark-window';

export interface BackfillWorkerOptions {
  url: string;
  slot: string;
  signalTable: string;
  /** The captured tables by "schema.table". */
  tables: Map<string, SourceTable>;
  types: TypeRegistry;
  logger: Logger;
}

const IDLE_POLL_MS = 250;
const ATTEMPTS_PER_CHUNK = 5;

/**
 * Reads the chunks of the current backfill while capture streams: for each chunk a low watermark,
 * the read, a high watermark, all through the signal table; the stream (BackfillTracker) emits the
 * chunk at the high watermark and records the progress with its position. The worker only ever
 * starts from that recorded progress, so a restarted capture goes on at the last finished chunk.
 */
export class BackfillWorker {
  private readonly signalClient: Promise<Client>;
  private readonly readClient: Promise<Client>;

  constructor(
    private readonly options: BackfillWorkerOptions,
    private readonly tracker: BackfillTracker,
    private readonly stop: { stopped: boolean },
  ) {
    this.signalClient = connectSource(options.url, { application_name: 'tandem-backfill' });
    this.readClient = connectSource(options.url, { application_name: 'tandem-backfill' });
    // Errors surface when run() awaits them.
    this.signalClient.catch(() => undefined);
    this.readClient.catch(() => undefined);
  }

  async run(): Promise<void> {
    try {
      let failures = 0;
      while (!this.stop.stopped) {
        const backfill = currentBackfill(this.tracker.state().backfills);
        if (!backfill) {
          await sleep(IDLE_POLL_MS);
          continue;
        }
        try {
          await this.chunk(backfill);
          failures = 0;
        } catch (error) {
          failures += 1;
          this.options.logger.warn({ err: error, backfill: backfill.id, table: backfill.table, attempt: failures }, 'backfill chunk failed');
          if (failures >= ATTEMPTS_PER_CHUNK) {
            await this.signal('backfill-cancel', { backfill: backfill.id, reason: (error as Error).message });
            await writeProgress(await this.signalClient, this.options.signalTable, backfill.id, { ...progressOf(backfill), status: 'failed', error: (error as Error).message });
            failures = 0;
          }
          await sleep(1000);
        }
      }
    } finally {
      for (const client of [this.signalClient, this.readClient]) await (await client.catch(() => null))?.end().catch(() => undefined);
    }
  }

  private async chunk(backfill: Backfill): Promise<void> {
    const table = this.options.tables.get(backfill.table);
    if (!table) throw new Error(`table ${backfill.table} is not in source.tables`);
    const window = new WatermarkWindow(randomUUID(), backfill.id, backfill.table);
    const closed = this.tracker.register(window);
    try {
      const reader = await this.readClient;
      const query = { table, after: backfill.lastKey, where: backfill.where };
      const estimatedRows = backfill.estimatedRows === null ? await countRemaining(reader, query) : null;
      await this.signal('window-open', { window: window.id, backfill: backfill.id });
      await takeChunkSnapshot(reader);
      let rows: Array<Array<string | null>>;
      try {
        rows = await readChunk(reader, { ...query, limit: backfill.chunkSize });
      } finally {
        await reader.query('COMMIT');
      }
      window.attach(this.chunkRead(table, rows, estimatedRows, backfill.chunkSize));
      await this.signal('window-close', { window: window.id, backfill: backfill.id });
      if (!(await this.until(closed))) return;
      await deleteSignals(await this.signalClient, this.options.signalTable, [`${window.id}:open`, `${window.id}:close`]);
      const now = this.tracker.state().backfills.find((b) => b.id === backfill.id);
      if (now) await writeProgress(await this.signalClient, this.options.signalTable, now.id, progressOf(now));
      if (now && !(now.status === 'queued' || now.status === 'running')) {
        this.options.logger.info({ backfill: now.id, table: now.table, rows: now.rowsRead, emitted: now.rowsEmitted, status: now.status }, 'backfill finished');
      }
    } finally {
      this.tracker.unregister(window.id);
    }
  }

  private chunkRead(table: SourceTable, tuples: Array<Array<string | null>>, estimatedRows: number | null, chunkSize: number): ChunkRead {
    const columns = table.columns.map((column) => ({ name: column.name, typeOid: column.typeOid, typeMod: -1, isKey: false }));
    const keyIndexes = table.keyColumns.map((key) => table.columns.findIndex((column) => column.name === key));
    const rows = tuples.map((tuple) => {
      const row = tupleToRow(columns, tuple, this.options.types);
      return { key: keyOf(table.keyColumns, row)!, row };
    });
    const lastTuple = tuples[tuples.length - 1];
    return {
      rows,
      lastKey: lastTuple ? keyIndexes.map((i) => lastTuple[i] as string) : null,
      estimatedRows,
      last: tuples.length < chunkSize,
    };
  }

  private async signal(type: Signal['type'], data: Record<string, unknown>): Promise<void> {
    const suffix = type === 'window-open' ? ':open' : type === 'window-close' ? ':close' : `:${randomUUID()}`;
    const id = `${String(data.window ?? data.backfill)}${suffix}`;
    await writeSignal(await this.signalClient, this.options.signalTable, { id, type, data: { slot: this.options.slot, ...data } });
  }

  /** Waits for `promise` unless capture stops first; true when it settled. */
  private async until(promise: Promise<void>): Promise<boolean> {
    let settled = false;
    void promise.then(() => (settled = true));
    while (!settled && !this.stop.stopped) await sleep(20);
    return settled;
  }
}

export function progressOf(backfill: Backfill): Record<string, unknown> {
  const { status, rowsRead, rowsEmitted, chunksDone, estimatedRows, chunkSize, startedAtMs, updatedAtMs } = backfill;
  return { status, rowsRead, rowsEmitted, chunksDone, estimatedRows, chunkSize, startedAtMs, updatedAtMs };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
