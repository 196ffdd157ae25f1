import type { Pool } from 'pg';
import type { ReconciliationReport } from './reconciliation-report';

export interface ReportSummary {
  id: number;
  projection: string;
  verdict: 'PASS' | 'FAIL';
  mismatchRatio: number;
  threshold: number;
  sourceLsn: string;
  startedAt: string;
  finishedAt: string;
}

/** The reports `tandem reconcile` stored in tandem.reconciliations, newest first. */
export async function listReports(
  pool: Pool,
  options: { projection?: string; limit?: number } = {},
): Promise<ReportSummary[]> {
  const { rows } = await pool.query(
    `SELECT id, projection, verdict, mismatch_ratio, threshold, source_lsn::text AS source_lsn, started_at, finished_at
       FROM tandem.reconciliations WHERE ($1::text IS NULL OR projection = $1) ORDER BY id DESC LIMIT $2`,
    [options.projection ?? null, options.limit ?? 50],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    projection: row.projection,
    verdict: row.verdict,
    mismatchRatio: row.mismatch_ratio,
    threshold: row.threshold,
    sourceLsn: row.source_lsn,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at.toISOString(),
  }));
}

export async function readReport(pool: Pool, id: number): Promise<ReconciliationReport | null> {
  const { rows } = await pool.query<{ report: ReconciliationReport }>(
    'SELECT report FROM tandem.reconciliations WHERE id = $1',
    [id],
  );
  return rows[0]?.report ?? null;
}
