import { formatLsn, parseLsn } from '../../shared/lsn';
import { ArgumentError } from '../../shared/errors';
import { commitOf } from '../../contracts/envelope';
import { partitionId } from '../../connectors/postgres-target/checkpoint-store';

/** POSITION of `tandem replay --to` (DESIGN.md, "Position"). */
export type Position =
  | { kind: 'lsn'; lsn: bigint }
  | { kind: 'offsets'; offsets: Map<string, bigint> }
  | { kind: 'time'; ms: number }
  | { kind: 'cutover'; id: number }
  | { kind: 'checkpoint'; id: number };

/** A position resolved against the log: either last offsets per partition, or a per-partition prefix rule. */
export type Cut =
  | { kind: 'offsets'; offsets: Map<string, bigint> }
  | { kind: 'lsn'; lsn: bigint }
  | { kind: 'time'; ms: number };

const OFFSET_ENTRY = /^(.+)#(\d+)=(-?\d+)$/;

/**
 * Accepted forms:
 *  - `lsn:16/B374D848` or `16/B374D848`: every event whose commit LSN is at most this one;
 *  - `offsets:<topic>#<partition>=<offset>,…`: per partition, every record up to and including that
 *    offset (the checkpoint convention: the last applied offset; -1 = none); a partition not listed
 *    contributes nothing;
 *  - `time:<ISO-8601>` or an ISO-8601 timestamp with a zone: every event committed at or before it
 *    (the source commit time, source.ts_ms);
 *  - `cutover:ID`: the offsets recorded by a committed cutover;
 *  - `checkpoint:ID`: a snapshot of checkpoints in tandem.checkpoint_snapshots.
 */
export function parsePosition(text: string): Position {
  const value = text.trim();
  const [head, ...rest] = value.split(':');
  const tail = rest.join(':');
  switch (head) {
    case 'lsn':
      if (!/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(tail)) throw new ArgumentError(`--to ${value}: not an LSN (X/Y, hexadecimal)`);
      return { kind: 'lsn', lsn: parseLsn(tail) };
    case 'cutover':
    case 'checkpoint': {
      if (!/^\d+$/.test(tail)) throw new ArgumentError(`--to ${value}: ${head}:ID takes a numeric id`);
      return { kind: head, id: Number(tail) };
    }
    case 'offsets':
      return { kind: 'offsets', offsets: parseOffsets(tail, value) };
    case 'time':
      return { kind: 'time', ms: parseTime(tail, value) };
  }
  if (/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(value)) return { kind: 'lsn', lsn: parseLsn(value) };
  if (value.includes('#') && value.includes('=')) return { kind: 'offsets', offsets: parseOffsets(value, value) };
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) return { kind: 'time', ms: parseTime(value, value) };
  throw new ArgumentError(
    `--to ${value}: not a position (lsn:X/Y, offsets:topic#p=o,…, time:ISO-8601, cutover:ID or checkpoint:ID)`,
  );
}

function parseOffsets(list: string, whole: string): Map<string, bigint> {
  const offsets = new Map<string, bigint>();
  for (const entry of list.split(',').filter((e) => e.trim() !== '')) {
    const match = OFFSET_ENTRY.exec(entry.trim());
    if (!match) throw new ArgumentError(`--to ${whole}: "${entry}" is not <topic>#<partition>=<offset>`);
    offsets.set(partitionId(match[1], Number(match[2])), BigInt(match[3]));
  }
  if (offsets.size === 0) throw new ArgumentError(`--to ${whole}: no offsets`);
  return offsets;
}

function parseTime(text: string, whole: string): number {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(text) || Number.isNaN(ms)) {
    throw new ArgumentError(`--to ${whole}: not an ISO-8601 timestamp with a zone`);
  }
  return ms;
}

export function describePosition(position: Position | Cut): string {
  switch (position.kind) {
    case 'lsn':
      return `lsn:${formatLsn(position.lsn)}`;
    case 'time':
      return `time:${new Date(position.ms).toISOString()}`;
    case 'offsets':
      return `offsets:${[...position.offsets].map(([id, offset]) => `${id}=${offset}`).join(',')}`;
    default:
      return `${position.kind}:${position.id}`;
  }
}

/** Per partition, the records of a cut form a prefix: this says whether the next record still belongs. */
export function belongs(cut: Cut, record: { topic: string; partition: number; offset: bigint }, event: { commitLsn: bigint | null; commitMs: number | null } | null): boolean {
  if (cut.kind === 'offsets') {
    const last = cut.offsets.get(partitionId(record.topic, record.partition));
    return last !== undefined && record.offset <= last;
  }
  if (event === null) return true; // a tombstone follows the delete it belongs with
  // an event without a position (not a change event) is quarantined by the apply path, in order
  if (cut.kind === 'lsn') return event.commitLsn === null || event.commitLsn <= cut.lsn;
  return event.commitMs === null || event.commitMs <= cut.ms;
}

/** The commit LSN and commit time of an event value, or null for a tombstone. */
export function eventPosition(value: string | null): { commitLsn: bigint | null; commitMs: number | null } | null {
  if (value === null) return null;
  try {
    return commitOf(JSON.parse(value));
  } catch {
    return { commitLsn: null, commitMs: null };
  }
}
