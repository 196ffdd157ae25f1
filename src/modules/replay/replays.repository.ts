import type { Pool } from 'pg';

/** tandem.replays: one row per replay or rollback run, written only here. */
export interface ReplayStart {
  projection: string;
  kind: 'replay' | 'rollback';
  position: string;
  dryRun: boolean;
  operator: string;
  exportFile: string | null;
}

export interface ReplayOutcome {
  dryRun: boolean;
  offsets: Record<string, string>;
  applied: number;
  quarantined: number;
  stateHash: string | null;
  backupId: number | null;
  exported: number | null;
}

export async function insertReplay(pool: Pool, start: ReplayStart): Promise<number> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO tandem.replays (projection, kind, position, status, operator, export_file) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [start.projection, start.kind, start.position, start.dryRun ? 'dry-run' : 'running', start.operator, start.exportFile],
  );
  return Number(rows[0].id);
}

export async function finishReplay(pool: Pool, id: number, outcome: ReplayOutcome): Promise<void> {
  await pool.query(
    `UPDATE tandem.replays SET status = $2, offsets = $3, events_applied = $4, events_quarantined = $5, state_hash = $6, backup_id = $7,
            events_exported = $8, finished_at = now() WHERE id = $1`,
    [
      id,
      outcome.dryRun ? 'dry-run' : 'swapped',
      JSON.stringify(outcome.offsets),
      outcome.applied,
      outcome.quarantined,
      outcome.stateHash,
      outcome.backupId,
      outcome.exported,
    ],
  );
}

export async function failReplay(pool: Pool, id: number, reason: string): Promise<void> {
  await pool.query(`UPDATE tandem.replays SET status = 'failed', reason = $2, finished_at = now() WHERE id = $1`, [id, reason]);
}
