import type { Pool } from 'pg';

/** What replay and rollback read of a cutover (tandem.cutovers is written by the cutover module only). */
export interface CutoverForReplay {
  state: string;
  projections: string[];
  /** Per projection, per "topic#partition": the offset the cutover committed at. */
  offsets: Record<string, Record<string, string>> | null;
}

export async function readCutover(pool: Pool, id: number): Promise<CutoverForReplay | null> {
  const { rows } = await pool.query<CutoverForReplay>('SELECT state, projections, offsets FROM tandem.cutovers WHERE id = $1', [id]);
  return rows[0] ?? null;
}
