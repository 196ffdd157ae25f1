import type { ChunkRow, WatermarkWindow } from './watermark-window';

/** A chunk taken at its high watermark whose rows are still being produced, piece by piece. */
interface PendingChunk {
  window: WatermarkWindow;
  /** Index of the first row not yet produced. */
  next: number;
  /** Index of the first row not yet encoded ahead (prepare). */
  prepared: number;
  /** Resolves the worker's wait once the chunk is produced whole, or dropped. */
  settle: () => void;
}

/** One piece of a pending chunk, as taken for the next Kafka transaction. */
export interface ChunkPiece {
  window: WatermarkWindow;
  /** The chunk rows the piece covers (read), in key order. */
  read: ChunkRow[];
  /** Of those, the rows to produce (see WatermarkWindow.emittableRows). */
  emit: ChunkRow[];
  /** The piece ends its chunk. */
  completes: boolean;
}

/**
 * The chunks taken at their high watermark and not yet produced whole, in stream order. A big
 * chunk in one Kafka transaction would hold back every streamed event behind it; its rows are
 * produced instead in pieces sized to a transaction's time budget, between the stream's own
 * transactions. Their windows stay open meanwhile (see WatermarkWindow.emittable).
 */
export class PendingChunks {
  private readonly queue: PendingChunk[] = [];

  add(window: WatermarkWindow, settle: () => void): void {
    this.queue.push({ window, next: 0, prepared: 0, settle });
  }

  get size(): number {
    return this.queue.length;
  }

  /** Rows still to produce. */
  rowsLeft(): number {
    return this.queue.reduce((sum, pending) => sum + pending.window.attached!.rows.length - pending.next, 0);
  }

  /** The windows still open for their pending chunks: they go on recording the stream's changes. */
  windows(): WatermarkWindow[] {
    return this.queue.map((pending) => pending.window);
  }

  /** The key the backfill's next chunk must start after while chunks of it are pending; undefined when none is. */
  tailKey(backfillId: string): string[] | null | undefined {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const chunk = this.queue[i].window.attached!;
      if (this.queue[i].window.backfillId === backfillId) return chunk.lastKey ?? chunk.after;
    }
    return undefined;
  }

  /** The window of the oldest pending chunk. */
  head(): WatermarkWindow | null {
    return this.queue[0]?.window ?? null;
  }

  /**
   * Encodes the JSON of up to `maxRows` more rows, of those at most `ahead` rows past the next piece's
   * start; returns how many it encoded (0: nothing left to do). Run while a commit is in flight, so
   * that a piece's transaction does not start with encoding all of its rows on the stream's thread.
   */
  prepare(maxRows: number, ahead: number): number {
    let done = 0;
    let limit = ahead;
    for (const pending of this.queue) {
      const rows = pending.window.attached!.rows;
      const end = Math.min(rows.length, pending.next + limit);
      pending.prepared = Math.max(pending.prepared, pending.next);
      while (pending.prepared < end && done < maxRows) {
        const chunkRow = rows[pending.prepared++];
        chunkRow.json ??= JSON.stringify(chunkRow.row);
        done += 1;
      }
      limit -= rows.length - pending.next;
      if (done >= maxRows || limit <= 0) break;
    }
    return done;
  }

  /** Up to `maxRows` rows of the oldest pending chunk; a chunk produced whole leaves the queue. */
  take(maxRows: number): ChunkPiece | null {
    const pending = this.queue[0];
    if (!pending) return null;
    const rows = pending.window.attached!.rows;
    const read = rows.slice(pending.next, pending.next + Math.max(1, maxRows));
    pending.next += read.length;
    const completes = pending.next >= rows.length;
    if (completes) {
      this.queue.shift();
      pending.settle();
    }
    return { window: pending.window, read, emit: pending.window.emittableRows(read), completes };
  }

  /** Drops the pending chunks `which` selects (a cancelled backfill, a window its worker gave up); their rest is read again. */
  drop(which: (window: WatermarkWindow) => boolean): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (!which(this.queue[i].window)) continue;
      const [dropped] = this.queue.splice(i, 1);
      dropped.settle();
    }
  }
}
