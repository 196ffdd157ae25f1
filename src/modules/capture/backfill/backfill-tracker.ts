import { keyOf } from '../../../connectors/postgres-source/change-event';
import { changeEvent, sourceInfo, type Row } from '../../../contracts/envelope';
import { tableTopic } from '../../../contracts/names';
import { type RecordSink } from '../../../contracts/positions';
import { parseSignal, type Signal } from '../../../connectors/postgres-source/signal-table';
import type { Lsn } from '../../../shared/lsn';

import { cancelBackfill, finishChunk, isActive, requestBackfill, startBackfill, type Backfill } from './backfill-state';
import type { ChunkRow, WatermarkWindow } from './watermark-window';
import { PendingChunks } from './pending-chunks';

const RECENT_TRANSACTIONS = 100_000;
/** Stands for a row's JSON in a piece's encoded envelope (emit): no row's JSON text contains it. */
const AFTER_SLOT = '\u0000tandem-backfill-after\u0000';

export interface BackfillTrackerOptions {
  slot: string;
  /** "schema.table" of the signal table. */
  signalTable: string;
  topicPrefix: string;
  database: string;
  /** Primary-key columns per "schema.table". */
  keyColumns: Map<string, string[]>;
  now: () => number;
}

/** The source transaction a signal arrived in. */
export interface SignalContext {
  walStart: Lsn;
  finalLsn: Lsn;
  commitTimeMicros: number;
}

export interface BackfillProgress {
  backfills: Backfill[];
  /** The tables capture streams and has read (or is reading) in full; a table missing here is backfilled on start. */
  capturedTables: string[];
}

/**
 * Capture's side of backfills, inside the stream: applies signals in stream order, feeds the open
 * watermark windows every change of their table, and at a window's high watermark emits the chunk's
 * surviving rows as `op: "r"` events. Everything it changes is committed with the stream's position
 * (StreamRunner.flush), so it is exactly as durable as the events.
 */
export class BackfillTracker {
  private progress: BackfillProgress;
  /** Windows registered by this process's backfill worker, by id; open once their low watermark is seen. */
  private readonly windows = new Map<string, { window: WatermarkWindow; openedAt: number | null; closed: () => void }>();
  /** The ids of the last transactions streamed, with their place in the stream (see closeWindow). */
  private readonly recentXids = new Map<number, number>();
  private streamed = 0;
  /** Chunks past their high watermark still being produced, piece by piece (takePiece). */
  private readonly pending = new PendingChunks();
  /** The last transaction the stream began: a piece produced after it is placed there (see takePiece). */
  private latest: SignalContext | null = null;

  constructor(
    private readonly options: BackfillTrackerOptions,
    start: BackfillProgress,
  ) {
    this.progress = { backfills: [...start.backfills], capturedTables: [...start.capturedTables] };
  }

  state(): BackfillProgress {
    return { backfills: this.progress.backfills.map((b) => ({ ...b })), capturedTables: [...this.progress.capturedTables] };
  }

  isSignalTable(schema: string, table: string): boolean {
    return `${schema}.${table}` === this.options.signalTable;
  }

  /** Resolves once the stream reached the window's high watermark (the chunk is then in the batch). */
  register(window: WatermarkWindow): Promise<void> {
    return new Promise((resolve) => this.windows.set(window.id, { window, openedAt: null, closed: resolve }));
  }

  /**
   * Forgets a window whose watermarks will never come (its worker failed, or capture stops); a chunk
   * of it still pending is dropped where it stands and read again from the recorded progress.
   */
  unregister(id: string): void {
    this.windows.delete(id);
    this.pending.drop((window) => window.id === id);
  }

  recordChange(dataCollection: string, key: string | null, op: 'c' | 'u' | 'd', after: Row | null): void {
    if (key === null) return;
    for (const window of this.openWindows(dataCollection)) window.recordChange(key, op, after);
  }

  recordTruncate(dataCollection: string): void {
    for (const window of this.openWindows(dataCollection)) window.recordTruncate();
  }

  private openWindows(dataCollection: string): WatermarkWindow[] {
    const open: WatermarkWindow[] = [];
    for (const entry of this.windows.values()) if (entry.openedAt !== null && entry.window.table === dataCollection) open.push(entry.window);
    if (this.pending.size > 0) for (const window of this.pending.windows()) if (window.table === dataCollection) open.push(window);
    return open;
  }

  /** Rows of chunks past their high watermark that are still to be produced. */
  pendingRows(): number {
    return this.pending.rowsLeft();
  }

  hasPending(): boolean {
    return this.pending.size > 0;
  }

  /**
   * Appends to `out` the next piece (at most `maxRows` chunk rows) of the oldest pending chunk, and
   * records it in the progress, which the caller commits with `out`. Called between two streamed
   * transactions only: the piece is then placed right after the last one, whose LSN it carries (its
   * rows are the rows' state there: the window saw no change of their keys up to this point). Returns
   * the chunk rows the piece covered (0 for an empty chunk), or null when no chunk is pending.
   */
  takePiece(maxRows: number, out: RecordSink): number | null {
    for (;;) {
      const head = this.pending.head();
      if (!head) return null;
      const backfill = this.progress.backfills.find((b) => b.id === head.backfillId);
      if (backfill && isActive(backfill)) break;
      this.pending.drop((window) => window === head); // cancelled while pending
    }
    const piece = this.pending.take(maxRows)!;
    const chunk = piece.window.attached!;
    this.emit(piece.window.table, piece.emit, this.latest!, out);
    this.progress.backfills = finishChunk(
      this.progress.backfills,
      {
        backfillId: piece.window.backfillId,
        lastKey: piece.read.length > 0 ? piece.read[piece.read.length - 1].keyText : null,
        rowsRead: piece.read.length,
        rowsEmitted: piece.emit.length,
        estimatedRows: chunk.estimatedRows,
        last: piece.completes && chunk.last,
        completesChunk: piece.completes,
      },
      this.options.now(),
    );
    return piece.read.length;
  }

  /** Every transaction the stream delivers, in order (its BEGIN). */
  noteTransaction(xid: number, finalLsn?: Lsn, commitTimeMicros?: number): void {
    if (finalLsn !== undefined) this.latest = { walStart: finalLsn, finalLsn, commitTimeMicros: commitTimeMicros ?? 0 };
    this.streamed += 1;
    this.recentXids.delete(xid);
    this.recentXids.set(xid, this.streamed);
    if (this.recentXids.size > RECENT_TRANSACTIONS) this.recentXids.delete(this.recentXids.keys().next().value!);
  }

  /** A row inserted into the signal table; a row that is not a signal is ignored. */
  onSignalRow(row: Row, context: SignalContext): void {
    const signal = parseSignal(row);
    if (signal) this.onSignal(signal, context);
  }

  onSignal(signal: Signal, context: SignalContext): void {
    if (signal.data.slot !== this.options.slot) return;
    const atMs = Math.floor(context.commitTimeMicros / 1000);
    const { data } = signal;
    switch (signal.type) {
      case 'backfill': {
        const table = String(data.table);
        const origin = data.origin === 'auto' ? 'auto' : 'command';
        if (origin === 'auto' && this.progress.capturedTables.includes(table)) return;
        this.progress.backfills = requestBackfill(
          this.progress.backfills,
          {
            id: signal.id,
            table,
            where: typeof data.where === 'string' ? data.where : null,
            chunkSize: Number(data.chunkSize),
            origin,
          },
          atMs,
        );
        if (!this.progress.capturedTables.includes(table)) this.progress.capturedTables = [...this.progress.capturedTables, table];
        return;
      }
      case 'backfill-cancel':
        this.progress.backfills = cancelBackfill(this.progress.backfills, String(data.backfill), atMs);
        return;
      case 'window-open': {
        const entry = this.windows.get(String(data.window));
        if (!entry) return;
        entry.openedAt = this.streamed;
        this.progress.backfills = startBackfill(this.progress.backfills, entry.window.backfillId, this.options.now());
        return;
      }
      case 'window-close':
        this.closeWindow(String(data.window), context);
        return;
    }
  }

  /**
   * The high watermark: the chunk is taken (queued to be produced in pieces, takePiece) or refused,
   * then read again. The worker's wait ends once a taken chunk is produced whole.
   */
  private closeWindow(id: string, context: SignalContext): void {
    const entry = this.windows.get(id);
    // A window of an earlier process (capture restarted between its watermarks): its chunk is read again.
    if (!entry || entry.openedAt === null || !entry.window.attached) return;
    this.windows.delete(id);
    const { window } = entry;
    const chunk = window.attached!;
    const backfill = this.progress.backfills.find((b) => b.id === window.backfillId);
    // A chunk is taken only right after the recorded progress (or the pending chunk before it): one read
    // ahead of a chunk that was not taken is not.
    const tail = backfill && (this.pending.tailKey(backfill.id) === undefined ? backfill.lastKey : this.pending.tailKey(backfill.id));
    const active = backfill !== undefined && isActive(backfill) && JSON.stringify(tail) === JSON.stringify(chunk.after);
    if (active && this.committedUnseen(chunk.runningXids, entry.openedAt)) {
      this.rereads += 1;
    } else if (active) {
      this.latest = context;
      this.pending.add(window, entry.closed);
      return;
    }
    entry.closed();
  }

  /** Chunks read again because their snapshot missed a transaction streamed before their window (see below). */
  rereads = 0;

  /**
   * PostgreSQL writes a commit to the WAL a moment before the transaction becomes visible to new
   * snapshots. A transaction caught in that moment comes before the low watermark in the stream and
   * yet is missing from the chunk read after it, so the chunk could hold an older row than the
   * stream already delivered. The chunk's snapshot lists such a transaction as running, while the
   * stream delivered it before the window opened: then the chunk is dropped and read again in a new
   * window (rare: the moment is short). The stream's last RECENT_TRANSACTIONS transactions are kept
   * for this check; one caught in that moment for longer than it takes that many others to commit
   * would go unseen.
   */
  private committedUnseen(runningXids: number[], openedAt: number): boolean {
    return runningXids.some((xid) => {
      const at = this.recentXids.get(xid);
      return at !== undefined && at < openedAt;
    });
  }

  /** Encodes rows of the pending chunks ahead of their pieces (see PendingChunks.prepare). */
  preparePieces(maxRows: number, ahead: number): number {
    return this.pending.prepare(maxRows, ahead);
  }

  private emit(dataCollection: string, rows: ChunkRow[], context: SignalContext, out: RecordSink): void {
    const dot = dataCollection.indexOf('.');
    const schema = dataCollection.slice(0, dot);
    const table = dataCollection.slice(dot + 1);
    const keyColumns = this.options.keyColumns.get(dataCollection) ?? [];
    const topic = tableTopic(this.options.topicPrefix, schema, table);
    // The LSN of a backfill read is the high watermark's: the row is the row's state at the high
    // watermark and sits there in the log, so its LSN orders it exactly among the row's streamed
    // events. Every earlier change of the key has a smaller LSN (the read replaces it, as it should:
    // a projection's LSN guard applies it), every later change a larger one (which replaces the
    // read). An LSN of when the chunk was read would be smaller than the in-window changes that
    // came before the high watermark, so a consumer comparing LSNs could not tell it was current.
    const source = sourceInfo({
      serverName: this.options.topicPrefix,
      database: this.options.database,
      schema,
      table,
      snapshot: 'incremental',
      commitTimeMicros: context.commitTimeMicros,
      txId: null,
      lsn: context.walStart,
      commitLsn: context.finalLsn,
      previousCommitLsn: null,
    });
    const now = this.options.now();
    // The envelope around `after` is the same for the whole piece: encoded once, each row's JSON put in it.
    const [head, tail] = JSON.stringify(changeEvent('r', null, AFTER_SLOT as never, source, null, now)).split(JSON.stringify(AFTER_SLOT));
    for (const { row, json } of rows) {
      out.push({ topic, key: keyOf(keyColumns, row), value: head + (json ?? JSON.stringify(row)) + tail });
    }
  }
}
