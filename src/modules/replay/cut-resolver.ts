import type { Pool } from 'pg';
import { ReplayRefusedError } from '../../shared/errors';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import type { CutReadResult } from './log-reader';
import type { Cut, Position } from './position';
import { readCheckpointSnapshot } from './backups.repository';
import { readCutover } from './cutover-reads';

/** The cut a position names: a cutover's or a checkpoint snapshot's offsets are looked up in the target. */
export async function resolveCut(pool: Pool, definition: ProjectionDefinition<unknown>, position: Position): Promise<Cut> {
  if (position.kind === 'lsn' || position.kind === 'time' || position.kind === 'offsets') return position;
  if (position.kind === 'cutover') {
    const cutover = await readCutover(pool, position.id);
    if (!cutover) throw new ReplayRefusedError(`--to cutover:${position.id}: no such cutover`);
    if (cutover.state !== 'committed')
      throw new ReplayRefusedError(`--to cutover:${position.id}: the cutover is ${cutover.state}, not committed`);
    const offsets = cutover.offsets?.[definition.name];
    if (!offsets)
      throw new ReplayRefusedError(
        `--to cutover:${position.id}: projection ${definition.name} was not part of that cutover`,
      );
    return {
      kind: 'offsets',
      offsets: new Map(Object.entries(offsets).map(([pid, offset]) => [pid, BigInt(offset)])),
    };
  }
  const snapshot = await readCheckpointSnapshot(pool, position.id);
  if (!snapshot) throw new ReplayRefusedError(`--to checkpoint:${position.id}: no such checkpoint snapshot`);
  if (snapshot.projection !== definition.name)
    throw new ReplayRefusedError(
      `--to checkpoint:${position.id}: a checkpoint of ${snapshot.projection}, not ${definition.name}`,
    );
  return { kind: 'offsets', offsets: snapshot.offsets };
}

/** An offset position must be reached exactly: a missing record means the log lost it (retention). */
export function checkReached(cut: Cut, read: CutReadResult): void {
  if (cut.kind !== 'offsets') return;
  const problems: string[] = [];
  for (const [pid, offset] of cut.offsets) {
    if (offset < 0n) continue;
    const reached = read.lastIncluded.get(pid);
    if (reached !== offset) problems.push(`${pid}: wanted offset ${offset}, the log gave ${reached ?? 'nothing'}`);
  }
  if (problems.length > 0) throw new ReplayRefusedError(`the log does not hold the position: ${problems.join('; ')}`);
}
