import { z } from 'zod';
import { formatLsn, parseLsn, type Lsn } from '../../shared/lsn';
import { rangeContains, type KeyKind, type KeyRange, type KeyTuple } from '../../connectors/postgres-source/key-range';
import type { Row } from '../../contracts/envelope';
import { backfillSchema, type Backfill } from './backfill/backfill-state';

/**
 * What capture keeps in Kafka, written in the same Kafka transaction as the events it describes,
 * so that a restarted capture neither skips nor repeats an event.
 */
export interface StreamPosition {
  /** The commit LSN of the last source transaction whose events are all in Kafka. */
  lastCommitLsn: Lsn | null;
  /** A large source transaction part of which is in Kafka: how many of its records were produced. */
  partial: { finalLsn: Lsn; emitted: number } | null;
  /** The LSN that is safe to acknowledge to PostgreSQL (end of the last durable commit, or a heartbeat). */
  ackLsn: Lsn | null;
}

export interface SnapshotChunk extends KeyRange {
  /** The consistent point of the snapshot this chunk was read in; null while pending. */
  doneAtLsn: Lsn | null;
}

export interface TableSnapshot {
  keyColumns: string[];
  keyKinds: KeyKind[];
  chunks: SnapshotChunk[];
}

export interface SnapshotProgress {
  status: 'running' | 'done';
  /** The slot's consistent point: streaming starts here. */
  consistentLsn: Lsn;
  tables: Record<string, TableSnapshot>;
}

export interface CaptureState {
  slot: string;
  stream: StreamPosition;
  snapshot: SnapshotProgress | null;
  /** Backfills requested through the signal table, with their progress by chunk. */
  backfills: Backfill[];
  /**
   * The tables capture has read in full (snapshot or backfill) or is reading; null in a state written
   * before backfills existed (capture then takes source.tables as they are).
   */
  capturedTables: string[] | null;
}

const lsnText = z.string().regex(/^[0-9A-F]+\/[0-9A-F]+$/);
const keyTuple = z.array(z.string()).nullable();
const storedState = z.object({
  version: z.literal(1),
  slot: z.string(),
  stream: z.object({
    lastCommitLsn: lsnText.nullable(),
    partial: z.object({ finalLsn: lsnText, emitted: z.number().int().nonnegative() }).nullable(),
    ackLsn: lsnText.nullable(),
  }),
  snapshot: z
    .object({
      status: z.enum(['running', 'done']),
      consistentLsn: lsnText,
      tables: z.record(
        z.string(),
        z.object({
          keyColumns: z.array(z.string()),
          keyKinds: z.array(z.enum(['integer', 'uuid', 'text'])),
          chunks: z.array(z.object({ lower: keyTuple, upper: keyTuple, doneAtLsn: lsnText.nullable() })),
        }),
      ),
    })
    .nullable(),
  backfills: z.array(backfillSchema).default([]),
  capturedTables: z.array(z.string()).nullable().default(null),
});

/** CaptureState with its LSNs as `L`: Lsn in memory, their text in the stored state. */
interface StateWithLsns<L> extends Omit<CaptureState, 'stream' | 'snapshot'> {
  stream: { lastCommitLsn: L | null; partial: { finalLsn: L; emitted: number } | null; ackLsn: L | null };
  snapshot: {
    status: SnapshotProgress['status'];
    consistentLsn: L;
    tables: Record<string, Omit<TableSnapshot, 'chunks'> & { chunks: Array<KeyRange & { doneAtLsn: L | null }> }>;
  } | null;
}

/** The same state with every LSN converted: one walk of the state for writing and for reading it. */
function convertLsns<A, B>(state: StateWithLsns<A>, convert: (lsn: A) => B): StateWithLsns<B> {
  const orNull = (lsn: A | null) => (lsn === null ? null : convert(lsn));
  const { stream, snapshot } = state;
  return {
    slot: state.slot,
    stream: {
      lastCommitLsn: orNull(stream.lastCommitLsn),
      partial: stream.partial && { finalLsn: convert(stream.partial.finalLsn), emitted: stream.partial.emitted },
      ackLsn: orNull(stream.ackLsn),
    },
    snapshot: snapshot && {
      status: snapshot.status,
      consistentLsn: convert(snapshot.consistentLsn),
      tables: Object.fromEntries(
        Object.entries(snapshot.tables).map(([name, table]) => [
          name,
          { ...table, chunks: table.chunks.map((chunk) => ({ ...chunk, doneAtLsn: orNull(chunk.doneAtLsn) })) },
        ]),
      ),
    },
    backfills: state.backfills,
    capturedTables: state.capturedTables,
  };
}

export function serializeState(state: CaptureState): string {
  return JSON.stringify({ version: 1, ...convertLsns(state, formatLsn) });
}

export function deserializeState(text: string): CaptureState {
  return convertLsns(storedState.parse(JSON.parse(text)), parseLsn); // `version` is left behind by the walk
}

/**
 * Chunks read after a resumed snapshot saw changes that streaming will deliver again; they are
 * skipped for keys in such a chunk when their commit precedes the chunk's snapshot.
 * Once streaming has passed every such chunk, the snapshot detail is no longer needed.
 */
export function pruneSnapshot(state: CaptureState): CaptureState {
  const snapshot = state.snapshot;
  if (!snapshot || snapshot.status !== 'done') return state;
  const passed = state.stream.lastCommitLsn;
  const tables: Record<string, TableSnapshot> = {};
  for (const [name, table] of Object.entries(snapshot.tables)) {
    const chunks = table.chunks.filter(
      (chunk) => chunk.doneAtLsn !== null && chunk.doneAtLsn > snapshot.consistentLsn && (passed === null || chunk.doneAtLsn > passed),
    );
    if (chunks.length > 0) tables[name] = { ...table, chunks };
  }
  return { ...state, snapshot: { ...snapshot, tables } };
}

/** True when a resumed snapshot chunk already holds this streamed change (see pruneSnapshot). */
export function seenBySnapshot(snapshot: SnapshotProgress | null, dataCollection: string, keyColumns: string[], row: Row, commitLsn: Lsn): boolean {
  const table = snapshot?.tables[dataCollection];
  if (!table) return false;
  const key: KeyTuple = keyColumns.map((column) => String(row[column]));
  const chunk = table.chunks.find((candidate) => rangeContains(table.keyKinds, candidate, key));
  return chunk !== undefined && chunk.doneAtLsn !== null && commitLsn < chunk.doneAtLsn;
}
