import { z } from 'zod';

/**
 * One backfill as capture keeps it in its state in Kafka. It changes only when capture's stream
 * reaches a signal (a request, a cancel, a chunk's high watermark), and is committed in the same
 * Kafka transaction as the events up to that point: after a crash, capture resumes a backfill at
 * its last finished chunk, never repeating or skipping one.
 */
export interface Backfill {
  id: string;
  table: string;
  /** A SQL condition on the table's columns; only rows matching it are read. */
  where: string | null;
  chunkSize: number;
  /** 'auto' when capture requested it for a table newly added to source.tables. */
  origin: 'command' | 'auto';
  status: 'queued' | 'running' | 'done' | 'cancelled';
  /** The primary key of the last row read (PostgreSQL text form); chunks go on after it. */
  lastKey: string[] | null;
  rowsRead: number;
  rowsEmitted: number;
  chunksDone: number;
  /** Rows matching the backfill when it started (counted then), for "chunks left". */
  estimatedRows: number | null;
  /** Source commit times (ms) of the request and of the last finished chunk. */
  requestedAtMs: number;
  startedAtMs: number | null;
  updatedAtMs: number;
}

export const backfillSchema = z.object({
  id: z.string(),
  table: z.string(),
  where: z.string().nullable(),
  chunkSize: z.number().int().positive(),
  origin: z.enum(['command', 'auto']),
  status: z.enum(['queued', 'running', 'done', 'cancelled']),
  lastKey: z.array(z.string()).nullable(),
  rowsRead: z.number().int().nonnegative(),
  rowsEmitted: z.number().int().nonnegative(),
  chunksDone: z.number().int().nonnegative(),
  estimatedRows: z.number().int().nonnegative().nullable(),
  requestedAtMs: z.number(),
  startedAtMs: z.number().nullable(),
  updatedAtMs: z.number(),
});

/** Finished backfills kept for `--list` and status. */
const FINISHED_KEPT = 20;

export const isActive = (backfill: Backfill) => backfill.status === 'queued' || backfill.status === 'running';

/** The backfill chunks are read for: the oldest active one (backfills run one after another). */
export function currentBackfill(backfills: Backfill[]): Backfill | null {
  return backfills.find(isActive) ?? null;
}

export interface BackfillRequest {
  id: string;
  table: string;
  where: string | null;
  chunkSize: number;
  origin: 'command' | 'auto';
}

/** Queues a request; a repeated id, or an automatic request for a table already queued, is ignored. */
export function requestBackfill(backfills: Backfill[], request: BackfillRequest, atMs: number): Backfill[] {
  if (backfills.some((b) => b.id === request.id)) return backfills;
  if (request.origin === 'auto' && backfills.some((b) => b.origin === 'auto' && b.table === request.table)) return backfills;
  const added: Backfill = {
    ...request,
    status: 'queued',
    lastKey: null,
    rowsRead: 0,
    rowsEmitted: 0,
    chunksDone: 0,
    estimatedRows: null,
    requestedAtMs: atMs,
    startedAtMs: null,
    updatedAtMs: atMs,
  };
  return prune([...backfills, added]);
}

export function cancelBackfill(backfills: Backfill[], id: string, atMs: number): Backfill[] {
  return backfills.map((b) => (b.id === id && isActive(b) ? { ...b, status: 'cancelled', updatedAtMs: atMs } : b));
}

/** The first chunk's low watermark: the backfill runs from here (its rate counts from this time). */
export function startBackfill(backfills: Backfill[], id: string, atMs: number): Backfill[] {
  return backfills.map((b) => (b.id === id && b.status === 'queued' ? { ...b, status: 'running', startedAtMs: atMs, updatedAtMs: atMs } : b));
}

export interface FinishedChunk {
  backfillId: string;
  /** Key of the chunk's last row; null when the chunk was empty. */
  lastKey: string[] | null;
  rowsRead: number;
  rowsEmitted: number;
  /** Rows counted when the first chunk was read. */
  estimatedRows: number | null;
  /** Fewer rows than the chunk size: nothing is left after this chunk (set on its last piece only). */
  last: boolean;
  /**
   * False for a piece of a chunk produced in several Kafka transactions that is not its last: the
   * progress (lastKey, rows) moves on with each piece, so a restart goes on after the last piece
   * committed and never produces one twice; the chunk counts as done with its last piece.
   */
  completesChunk?: boolean;
}

/** The effect of a chunk, or of a piece of it, reaching Kafka. A chunk of a backfill that is no longer active changes nothing. */
export function finishChunk(backfills: Backfill[], chunk: FinishedChunk, atMs: number): Backfill[] {
  return prune(
    backfills.map((b) => {
      if (b.id !== chunk.backfillId || !isActive(b)) return b;
      return {
        ...b,
        status: chunk.last ? 'done' : 'running',
        lastKey: chunk.lastKey ?? b.lastKey,
        rowsRead: b.rowsRead + chunk.rowsRead,
        rowsEmitted: b.rowsEmitted + chunk.rowsEmitted,
        chunksDone: b.chunksDone + (chunk.completesChunk === false ? 0 : 1),
        estimatedRows: b.estimatedRows ?? chunk.estimatedRows,
        startedAtMs: b.startedAtMs ?? atMs,
        updatedAtMs: atMs,
      };
    }),
  );
}

function prune(backfills: Backfill[]): Backfill[] {
  const finished = backfills.filter((b) => !isActive(b));
  if (finished.length <= FINISHED_KEPT) return backfills;
  const dropped = new Set(finished.slice(0, finished.length - FINISHED_KEPT).map((b) => b.id));
  return backfills.filter((b) => !dropped.has(b.id));
}
