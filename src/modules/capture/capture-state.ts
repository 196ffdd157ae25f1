import { z } from 'zod';
import { formatLsn, parseLsn, type Lsn } from '../../shared/lsn';
import { rangeContains, type KeyKind, type KeyRange, type KeyTuple } from '../../connectors/postgres-source/key-range';
import { backfillSchema, type Backfill } from './backfill/backfill-state';
import { ResumePointCipher, sealedKeySchema, type StoredKey } from './resume-point-cipher';

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
const storedKey = z.union([z.array(z.string()), sealedKeySchema]).nullable();
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
          chunks: z.array(z.object({ lower: storedKey, upper: storedKey, doneAtLsn: lsnText.nullable() })),
        }),
      ),
    })
    .nullable(),
  backfills: z.array(backfillSchema.extend({ lastKey: storedKey })).default([]),
  capturedTables: z.array(z.string()).nullable().default(null),
});

/** CaptureState with its LSNs as `L` and its resume points' key values as `K`: Lsn and KeyTuple in memory, text and StoredKey stored. */
interface StateAs<L, K> extends Omit<CaptureState, 'stream' | 'snapshot' | 'backfills'> {
  stream: { lastCommitLsn: L | null; partial: { finalLsn: L; emitted: number } | null; ackLsn: L | null };
  snapshot: {
    status: SnapshotProgress['status'];
    consistentLsn: L;
    tables: Record<string, Omit<TableSnapshot, 'chunks'> & { chunks: Array<{ lower: K | null; upper: K | null; doneAtLsn: L | null }> }>;
  } | null;
  backfills: Array<Omit<Backfill, 'lastKey'> & { lastKey: K | null }>;
}

/** The same state with every LSN and resume-point key converted: one walk of the state for writing and for reading it. */
function convertState<LA, LB, KA, KB>(state: StateAs<LA, KA>, lsn: (value: LA) => LB, key: (table: string, value: KA) => KB): StateAs<LB, KB> {
  const lsnOrNull = (value: LA | null) => (value === null ? null : lsn(value));
  const keyOrNull = (table: string, value: KA | null) => (value === null ? null : key(table, value));
  const { stream, snapshot } = state;
  return {
    slot: state.slot,
    stream: {
      lastCommitLsn: lsnOrNull(stream.lastCommitLsn),
      partial: stream.partial && { finalLsn: lsn(stream.partial.finalLsn), emitted: stream.partial.emitted },
      ackLsn: lsnOrNull(stream.ackLsn),
    },
    snapshot: snapshot && {
      status: snapshot.status,
      consistentLsn: lsn(snapshot.consistentLsn),
      tables: Object.fromEntries(
        Object.entries(snapshot.tables).map(([name, table]) => [
          name,
          {
            ...table,
            chunks: table.chunks.map((chunk) => ({
              lower: keyOrNull(name, chunk.lower),
              upper: keyOrNull(name, chunk.upper),
              doneAtLsn: lsnOrNull(chunk.doneAtLsn),
            })),
          },
        ]),
      ),
    },
    backfills: state.backfills.map((backfill) => ({ ...backfill, lastKey: keyOrNull(backfill.table, backfill.lastKey) })),
    capturedTables: state.capturedTables,
  };
}

/** The state as capture stores it in Kafka; a masked key's resume points are sealed by `cipher`. */
export function serializeState(state: CaptureState, cipher: ResumePointCipher = ResumePointCipher.none): string {
  return JSON.stringify({ version: 1, ...convertState(state, formatLsn, (table, tuple: KeyTuple) => cipher.store(table, tuple)) });
}

/** The stored state, its sealed resume points opened by `cipher` (a clear one, written by an older version, is taken as it is). */
export function deserializeState(text: string, cipher: ResumePointCipher = ResumePointCipher.none): CaptureState {
  // `version` is left behind by the walk
  return convertState(storedState.parse(JSON.parse(text)), parseLsn, (table, stored: StoredKey) => cipher.load(table, stored));
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

/**
 * True when a resumed snapshot chunk already holds this streamed change (see pruneSnapshot). `keyText(tuple)`
 * is the change's key as PostgreSQL sent it, clear even where the key is masked, as the bounds are.
 */
export function seenBySnapshot<T>(snapshot: SnapshotProgress | null, dataCollection: string, keyText: (tuple: T) => KeyTuple, tuple: T, commitLsn: Lsn): boolean {
  const table = snapshot?.tables[dataCollection];
  if (!table) return false;
  const key = keyText(tuple);
  const chunk = table.chunks.find((candidate) => rangeContains(table.keyKinds, candidate, key));
  return chunk !== undefined && chunk.doneAtLsn !== null && commitLsn < chunk.doneAtLsn;
}
