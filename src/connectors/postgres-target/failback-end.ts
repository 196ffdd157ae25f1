import type { Pool } from 'pg';
import { audit } from './operator-audit';
import { dropTargetCapture } from './failback-target-capture';
import { failbackStore, type FailbackRecord } from './failback-repository';

/** Ends a failback for good, whichever way: what it set up on the target is undone, its record says how it ended. */
export async function endFailback(
  pool: Pool,
  record: FailbackRecord,
  state: 'stopped' | 'rolled-back',
  details?: Record<string, unknown>,
): Promise<FailbackRecord> {
  const client = await pool.connect();
  try {
    await dropTargetCapture(client, record.slot, record.publication);
  } finally {
    client.release();
  }
  await failbackStore.finish(pool, record.cutoverId, state, details);
  return (await failbackStore.get(pool, record.cutoverId))!;
}

/**
 * A replay or a backup restore replaced the live tables of `projection`: an active failback
 * carrying it ends, since its publication follows the replaced tables (now in a backup schema) and
 * the rebuilt ones, which the application writes, would never flow back. `tandem failback start`
 * prepares it again on the new tables. Returns the cutover whose failback ended, or null.
 */
export async function endFailbackOfReplaced(pool: Pool, projection: string, by: { operator: string; note: string }): Promise<number | null> {
  const record = await failbackStore.activeCarrying(pool, projection);
  if (!record) return null;
  const details = { endedBy: by.note, operator: by.operator };
  await endFailback(pool, record, 'stopped', details);
  await audit(pool, by.operator, 'failback.end', `cutover:${record.cutoverId}`, { ...details, projection });
  return record.cutoverId;
}
