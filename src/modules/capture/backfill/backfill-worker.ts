import { randomUUID } from 'crypto';
import type { Client } from 'pg';
import { connectSource } from '../../../connectors/postgres-source/session';
import { countRemaining, readChunk, takeChunkSnapshot } from '../../../connectors/postgres-source/chunk-reader';
import { deleteSignals, writeProgress, writeSignal, type Signal } from '../../../connectors/postgres-source/signal-table';
import { keyOf, tupleToRow } from '../../../connectors/postgres-source/change-event';
import type { SourceTable } from '../../../connectors/postgres-source/source-catalog';
import type { TypeRegistry } from '../../../connectors/postgres-source/pg-types';
import type { ColumnPolicy } from '../../../connectors/postgres-source/column-policy';
import type { Logger } from '../../../shared/logger';
import { currentBackfill, type Backfill } from './backfill-state';
import type { BackfillTracker } from './backfill-tracker';
import { WatermarkWindow, type ChunkRead, type ChunkRow } from './watermark-window';

export interface BackfillWorkerOptions {
  url: string;
  slot: string;
  signalTable: string;
  /** The captured tables by "schema.table". */
  tables: Map<string, SourceTable>;
  types: TypeRegistry;
  /** source.columns: a backfilled row leaves out and masks the same columns as the snapshot and the stream. */
  columns: ColumnPolicy;
  logger: Logger;
}

const IDLE_POLL_MS = 250;
const DECODE_SLICE_ROWS = 500;

/** A chunk whose high watermark is written; the stream has yet to reach it. */
interface InFlight {
  window: WatermarkWindow;
  closed: Promise<void>;
  chunk: ChunkRead;
  backfillId: string;
}
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
    let inFlight: InFlight | null = null;
    try {
      let failures = 0;
      while (!this.stop.stopped) {
        const backfill = currentBackfill(this.tracker.state().backfills);
        // One chunk is read while the stream emits the one before it: the next chunk starts after the
        // in-flight chunk's last key. Should that chunk not be taken (read again, cancelled), the
        // tracker refuses the next one too (its start no longer follows the recorded progress).
        const ahead: InFlight | null = inFlight && backfill && inFlight.backfillId === backfill.id && !inFlight.chunk.last ? inFlight : null;
        if (!backfill || (inFlight && !ahead)) {
          if (inFlight) await this.finish(inFlight);
          else await sleep(IDLE_POLL_MS);
          inFlight = null;
          continue;
        }
        try {
          const next: InFlight = await this.open(backfill, ahead ? ahead.chunk.lastKey : backfill.lastKey);
          if (inFlight && !(await this.finish(inFlight))) {
            await this.finish(next);
            inFlight = null;
          } else inFlight = next;
          failures = 0;
        } catch (error) {
          if (inFlight) this.tracker.unregister(inFlight.window.id);
          inFlight = null;
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
      if (inFlight) this.tracker.unregister(inFlight.window.id);
      for (const client of [this.signalClient, this.readClient]) await (await client.catch(() => null))?.end().catch(() => undefined);
    }
  }

  /** Low watermark, the chunk after `after`, high watermark; the stream then emits it. */
  private async open(backfill: Backfill, after: string[] | null): Promise<InFlight> {
    const table = this.options.tables.get(backfill.table);
    if (!table) throw new Error(`table ${backfill.table} is not in source.tables`);
    const window = new WatermarkWindow(randomUUID(), backfill.id, backfill.table);
    const closed = this.tracker.register(window);
    try {
      const reader = await this.readClient;
      const query = { table, after, where: backfill.where };
      const estimatedRows = backfill.estimatedRows === null && after === null ? await countRemaining(reader, query) : null;
      await this.signal('window-open', { window: window.id, backfill: backfill.id });
      const runningXids = await takeChunkSnapshot(reader);
      let rows: Array<Array<string | null>>;
      try {
        rows = await readChunk(reader, { ...query, limit: backfill.chunkSize });
      } finally {
        await reader.query('COMMIT');
      }
      const chunk = { ...(await this.chunkRead(table, rows, estimatedRows, backfill.chunkSize)), after, runningXids };
      window.attach(chunk);
      await this.signal('window-close', { window: window.id, backfill: backfill.id });
      return { window, closed, chunk, backfillId: backfill.id };
    } catch (error) {
      this.tracker.unregister(window.id);
      throw error;
    }
  }

  /** Waits for the stream to reach the chunk's high watermark; true when the chunk was taken. */
  private async finish({ window, closed, chunk, backfillId }: InFlight): Promise<boolean> {
    try {
      if (!(await this.until(closed))) return false;
      await deleteSignals(await this.signalClient, this.options.signalTable, [`${window.id}:open`, `${window.id}:close`]);
      const now = this.tracker.state().backfills.find((b) => b.id === backfillId);
      if (!now) return false;
      await writeProgress(await this.signalClient, this.options.signalTable, now.id, progressOf(now));
      const taken = JSON.stringify(now.lastKey) === JSON.stringify(chunk.lastKey ?? chunk.after) && now.status !== 'cancelled';
      if (!taken && now.status !== 'cancelled') {
        this.options.logger.info({ backfill: now.id, table: now.table }, 'backfill chunk read again: its snapshot missed a transaction the stream had already delivered');
      }
      if (now.status !== 'queued' && now.status !== 'running') {
        this.options.logger.info({ backfill: now.id, table: now.table, rows: now.rowsRead, emitted: now.rowsEmitted, status: now.status }, 'backfill finished');
      }
      return taken;
    } finally {
      this.tracker.unregister(window.id);
    }
  }

  /** Decodes a chunk's rows a slice at a time, yielding between slices: the stream decodes on the same thread. */
  private async chunkRead(table: SourceTable, tuples: Array<Array<string | null>>, estimatedRows: number | null, chunkSize: number): Promise<Omit<ChunkRead, 'runningXids' | 'after'>> {
    const columns = table.columns.map((column) => ({ name: column.name, typeOid: column.typeOid, typeMod: -1, isKey: false }));
    const keyIndexes = table.keyColumns.map((key) => table.columns.findIndex((column) => column.name === key));
    const rules = this.options.columns.of(table.schema, table.table);
    const rows: ChunkRow[] = [];
    for (let start = 0; start < tuples.length; start += DECODE_SLICE_ROWS) {
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      for (const tuple of tuples.slice(start, start + DECODE_SLICE_ROWS)) {
        const row = tupleToRow(columns, tuple, this.options.types, rules);
        rows.push({ key: keyOf(table.keyColumns, row)!, keyText: keyIndexes.map((i) => tuple[i] as string), row });
      }
    }
    return {
      rows,
      lastKey: rows.length > 0 ? rows[rows.length - 1].keyText : null,
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
