import type { Row } from '../../../contracts/envelope';
import { UNAVAILABLE_VALUE } from '../../../contracts/envelope';

/** A chunk as read between the watermarks: rows in key order, by record key. */
export interface ChunkRow {
  /** The record key. */
  key: string;
  /** The primary key in PostgreSQL text form, as progress records it. */
  keyText: string[];
  row: Row;
  /** `row` as JSON, encoded ahead of its piece's transaction (PendingChunks.prepare); absent until then. */
  json?: string;
}

export interface ChunkRead {
  rows: ChunkRow[];
  /** The primary key of the last row read (PostgreSQL text form); null for an empty chunk. */
  lastKey: string[] | null;
  /** Rows matching the backfill when its first chunk was read; null on later chunks. */
  estimatedRows: number | null;
  /** Fewer rows than the chunk size came back: the backfill ends with this chunk. */
  last: boolean;
  /** The key the chunk starts after: the previous chunk's last key (null for the first chunk). */
  after: string[] | null;
  /** Transactions the chunk's snapshot saw as running (low 32 bits of their ids, as pgoutput gives them). */
  runningXids: number[];
}

/** What the stream saw of one key while the window was open: its newest state. */
interface SeenChange {
  deleted: boolean;
  /** The newest row; an unchanged TOASTed column keeps the last value the window saw, or the placeholder. */
  row: Row | null;
}

/**
 * One chunk's watermark window (DBLog; Debezium's incremental snapshot). The low watermark opens it
 * in the stream, the chunk is read after that, the high watermark closes it. Every change of the
 * table the stream delivers in between is recorded by key; at the high watermark a chunk row is
 * emitted only if the stream did not change that key inside the window, because:
 * - the chunk read started after the low watermark committed and ended before the high one, so a
 *   chunk row whose key the window never saw holds the row's state at the high watermark, and
 *   emitting it there (the high watermark's place in the stream) is exact;
 * - a key changed inside the window has a streamed event at least as new as the chunk's value; the
 *   chunk row, read at an unknown point of the window, could be older, so it is dropped.
 * One exception keeps a TOASTed value from being lost: when the newest in-window state of a key
 * still carries the unchanged-TOAST placeholder (an UPDATE that left a large column alone, on a row
 * the consumer may never have seen), that column was not changed anywhere in the window, so the
 * chunk's value of it is current: the row is emitted with the placeholder filled from the chunk.
 * A TRUNCATE inside the window empties the chunk.
 */
export class WatermarkWindow {
  private readonly seen = new Map<string, SeenChange>();
  private truncated = false;
  private chunk: ChunkRead | null = null;

  constructor(
    readonly id: string,
    readonly backfillId: string,
    /** "schema.table" */
    readonly table: string,
  ) {}

  /** A change of the window's table, in stream order. */
  recordChange(key: string, op: 'c' | 'u' | 'd', after: Row | null): void {
    if (op === 'd' || after === null) {
      this.seen.set(key, { deleted: true, row: null });
      return;
    }
    const previous = this.seen.get(key);
    const row = { ...after };
    if (op === 'u' && previous?.row) {
      for (const [column, value] of Object.entries(row)) {
        if (value === UNAVAILABLE_VALUE && previous.row[column] !== undefined) row[column] = previous.row[column];
      }
    }
    this.seen.set(key, { deleted: false, row });
  }

  recordTruncate(): void {
    this.truncated = true;
    this.seen.clear();
  }

  attach(chunk: ChunkRead): void {
    this.chunk = chunk;
  }

  get attached(): ChunkRead | null {
    return this.chunk;
  }

  /** The rows to emit at the high watermark, in key order (see the class comment). */
  close(): Row[] {
    if (!this.chunk) throw new Error(`window ${this.id} closed before its chunk was read`);
    return this.emittable(this.chunk.rows);
  }

  /**
   * The rows of `rows` (a piece of the chunk) to emit now. The window may stay open past the high
   * watermark while the chunk is produced piece by piece: a row emitted later is still exact when the
   * stream did not change its key from the low watermark up to the moment it is emitted, which is
   * the same rule applied to a longer window.
   */
  emittable(rows: ChunkRow[]): Row[] {
    return this.emittableRows(rows).map((chunkRow) => chunkRow.row);
  }

  /** emittable's rows as chunk rows: an unchanged row as read (its JSON kept), a filled one anew. */
  emittableRows(rows: ChunkRow[]): ChunkRow[] {
    if (this.truncated) return [];
    const emitted: ChunkRow[] = [];
    for (const chunkRow of rows) {
      const change = this.seen.get(chunkRow.key);
      if (!change) emitted.push(chunkRow);
      else if (!change.deleted && change.row && hasPlaceholder(change.row)) {
        emitted.push({ key: chunkRow.key, keyText: chunkRow.keyText, row: fillFrom(change.row, chunkRow.row) });
      }
    }
    return emitted;
  }
}

function hasPlaceholder(row: Row): boolean {
  return Object.values(row).some((value) => value === UNAVAILABLE_VALUE);
}

function fillFrom(newest: Row, chunkRow: Row): Row {
  const row = { ...newest };
  for (const [column, value] of Object.entries(row)) {
    if (value === UNAVAILABLE_VALUE && chunkRow[column] !== undefined) row[column] = chunkRow[column];
  }
  return row;
}
