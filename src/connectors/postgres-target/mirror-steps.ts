import type { ClientBase, Pool } from 'pg';

/** One step of a mirror projection's target schema (tandem.mirror_steps): a table, or a column its source gained. */
export interface MirrorStep {
  version: number;
  kind: 'table' | 'column';
  sourceTable: string;
  spec: unknown;
}

export async function loadMirrorSteps(db: Pool | ClientBase, projection: string): Promise<MirrorStep[]> {
  const { rows } = await db.query<{ version: number; kind: 'table' | 'column'; source_table: string; spec: unknown }>(
    'SELECT version, kind, source_table, spec FROM tandem.mirror_steps WHERE projection = $1 ORDER BY version',
    [projection],
  );
  return rows.map((row) => ({ version: row.version, kind: row.kind, sourceTable: row.source_table, spec: row.spec }));
}

/** Serializes the steps of one projection (held until the caller's transaction ends). */
export async function lockMirrorSteps(db: ClientBase, projection: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tandem.migrate:${projection}`]);
}

/** Appends a step; returns its version. Call inside a transaction holding lockMirrorSteps. */
export async function appendMirrorStep(db: ClientBase, projection: string, step: Omit<MirrorStep, 'version'>): Promise<number> {
  const { rows } = await db.query<{ version: number }>(
    `INSERT INTO tandem.mirror_steps (projection, version, kind, source_table, spec)
     SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4 FROM tandem.mirror_steps WHERE projection = $1
     RETURNING version`,
    [projection, step.kind, step.sourceTable, JSON.stringify(step.spec)],
  );
  return rows[0].version;
}
