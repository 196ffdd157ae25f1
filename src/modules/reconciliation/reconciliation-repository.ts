import type { ClientBase, Pool } from 'pg';
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

/** The repository of tandem.reconciliations: the reports `tandem reconcile` stored, newest first. */
export class ReconciliationRepository {
  constructor(private readonly db: Pool | ClientBase) {}

  /** Stores a finished report and gives it its id (also written inside the stored report). */
  async record(report: ReconciliationReport): Promise<number> {
    const stored = await this.db.query<{ id: string }>(
      `INSERT INTO tandem.reconciliations (projection, source_lsn, verdict, mismatch_ratio, threshold, started_at, finished_at, report)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [
        report.projection,
        report.sourceLsn,
        report.verdict,
        report.mismatchRatio,
        report.threshold,
        report.startedAt,
        report.finishedAt,
        JSON.stringify(report),
      ],
    );
    const id = Number(stored.rows[0].id);
    await this.db.query('UPDATE tandem.reconciliations SET report = $2 WHERE id = $1', [id, JSON.stringify({ ...report, id })]);
    return id;
  }

  async list(options: { projection?: string; limit?: number } = {}): Promise<ReportSummary[]> {
    const { rows } = await this.db.query(
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

  async read(id: number): Promise<ReconciliationReport | null> {
    const { rows } = await this.db.query<{ report: ReconciliationReport }>('SELECT report FROM tandem.reconciliations WHERE id = $1', [id]);
    return rows[0]?.report ?? null;
  }
}
