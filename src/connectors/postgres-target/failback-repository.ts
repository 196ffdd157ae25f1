import type { Pool } from 'pg';
import { CutoverRepository } from './cutover-repository';

export type FailbackState = 'active' | 'stopped' | 'rolled-back';

/** A failback as recorded in tandem.failbacks (target database): one per committed cutover. */
export interface FailbackRecord {
  cutoverId: number;
  projections: string[];
  slot: string;
  publication: string;
  /** Where the target slot starts: every target write after it flows back. */
  startLsn: string;
  state: FailbackState;
  operator: string;
  startedAt: string;
  stoppedAt: string | null;
  /** How it ended: the rollback's gates and timings, or what else ended it (a replay). */
  rollback: Record<string, unknown> | null;
}

function toRecord(row: Record<string, unknown>): FailbackRecord {
  return {
    cutoverId: Number(row.cutover_id),
    projections: row.projections as string[],
    slot: row.slot as string,
    publication: row.publication as string,
    startLsn: row.start_lsn as string,
    state: row.state as FailbackState,
    operator: row.operator as string,
    startedAt: (row.started_at as Date).toISOString(),
    stoppedAt: row.stopped_at ? (row.stopped_at as Date).toISOString() : null,
    rollback: (row.rollback as Record<string, unknown> | null) ?? null,
  };
}

/** The repository of tandem.failbacks. */
export const failbackStore = {
  async get(pool: Pool, cutoverId: number): Promise<FailbackRecord | null> {
    const { rows } = await pool.query('SELECT *, start_lsn::text AS start_lsn FROM tandem.failbacks WHERE cutover_id = $1', [cutoverId]);
    return rows.length === 0 ? null : toRecord(rows[0]);
  },

  /** The failback of the latest cutover that has one. */
  async latest(pool: Pool): Promise<FailbackRecord | null> {
    const { rows } = await pool.query('SELECT *, start_lsn::text AS start_lsn FROM tandem.failbacks ORDER BY cutover_id DESC LIMIT 1');
    return rows.length === 0 ? null : toRecord(rows[0]);
  },

  /** The active failback whose projections include `projection`. */
  async activeCarrying(pool: Pool, projection: string): Promise<FailbackRecord | null> {
    const { rows } = await pool.query(
      "SELECT *, start_lsn::text AS start_lsn FROM tandem.failbacks WHERE state = 'active' AND $1 = ANY(projections) ORDER BY cutover_id DESC LIMIT 1",
      [projection],
    );
    return rows.length === 0 ? null : toRecord(rows[0]);
  },

  async record(pool: Pool, failback: Omit<FailbackRecord, 'state' | 'startedAt' | 'stoppedAt' | 'rollback'>): Promise<FailbackRecord> {
    await pool.query(
      `INSERT INTO tandem.failbacks (cutover_id, projections, slot, publication, start_lsn, state, operator)
       VALUES ($1, $2, $3, $4, $5, 'active', $6)
       ON CONFLICT (cutover_id) DO UPDATE SET projections = EXCLUDED.projections, state = 'active', stopped_at = NULL, rollback = NULL`,
      [failback.cutoverId, failback.projections, failback.slot, failback.publication, failback.startLsn, failback.operator],
    );
    return (await failbackStore.get(pool, failback.cutoverId))!;
  },

  async finish(pool: Pool, cutoverId: number, state: Exclude<FailbackState, 'active'>, rollback?: Record<string, unknown>): Promise<void> {
    await pool.query('UPDATE tandem.failbacks SET state = $2, stopped_at = COALESCE(stopped_at, now()), rollback = COALESCE($3, rollback) WHERE cutover_id = $1', [
      cutoverId,
      state,
      rollback === undefined ? null : JSON.stringify(rollback),
    ]);
  },
};

/** The state and projections of a cutover (the latest when no id is given), for failback. */
export async function cutoverSummary(
  pool: Pool,
  id?: number,
): Promise<{ id: number; state: string; projections: string[]; applicationRoles: string[] } | null> {
  return new CutoverRepository(pool).find(id);
}
