import type { ClientBase, Pool } from 'pg';

export type CutoverState = 'parallel' | 'frozen' | 'drained' | 'verified' | 'committed' | 'aborted';
export const ACTIVE_CUTOVER_STATES: CutoverState[] = ['parallel', 'frozen', 'drained', 'verified'];

export interface CutoverRecord {
  id: number;
  state: CutoverState;
  projections: string[];
  applicationRoles: string[];
  freezeLsn: string | null;
  /** Per projection, per "topic#partition": the last applied offset at the freeze position. */
  offsets: Record<string, Record<string, string>> | null;
  reconciliationIds: number[] | null;
  backupIds: number[] | null;
  operator: string;
  reason: string | null;
  history: Array<{ state: string; at: string; operator: string; reason?: string }>;
  plannedAt: string;
  frozenAt: string | null;
  drainedAt: string | null;
  verifiedAt: string | null;
  committedAt: string | null;
  abortedAt: string | null;
  /** freeze → commit (or → abort), in milliseconds. */
  freezeWindowMs: number | null;
}

/** What a transition sets besides the state: named moments, values, and the freeze window measured in SQL. */
export interface CutoverChanges {
  /** Columns set to now(), e.g. frozen_at. */
  now?: Array<'frozen_at' | 'drained_at' | 'verified_at' | 'committed_at' | 'aborted_at'>;
  freezeLsn?: string;
  offsets?: Record<string, Record<string, string>>;
  reconciliationIds?: number[];
  backupIds?: number[];
  /** Sets freeze_window_ms to the time since frozen_at (null when never frozen). */
  measureFreezeWindow?: boolean;
}

const iso = (value: Date | null) => (value ? value.toISOString() : null);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a row of tandem.cutovers, mapped field by field
function toRecord(r: Record<string, any>): CutoverRecord {
  return {
    id: Number(r.id),
    state: r.state,
    projections: r.projections,
    applicationRoles: r.application_roles,
    freezeLsn: r.freeze_lsn,
    offsets: r.offsets,
    reconciliationIds: r.reconciliation_ids?.map(Number) ?? null,
    backupIds: r.backup_ids?.map(Number) ?? null,
    operator: r.operator,
    reason: r.reason,
    history: r.history,
    plannedAt: iso(r.planned_at)!,
    frozenAt: iso(r.frozen_at),
    drainedAt: iso(r.drained_at),
    verifiedAt: iso(r.verified_at),
    committedAt: iso(r.committed_at),
    abortedAt: iso(r.aborted_at),
    freezeWindowMs: r.freeze_window_ms === null ? null : Number(r.freeze_window_ms),
  };
}

/** The repository of tandem.cutovers: the one writer of the cutover state machine's records. */
export class CutoverRepository {
  constructor(private readonly db: Pool | ClientBase) {}

  /** Records a new cutover in state parallel; returns its id. */
  async create(projections: string[], applicationRoles: string[], operator: string): Promise<number> {
    const { rows } = await this.db.query<{ id: string }>(
      `INSERT INTO tandem.cutovers (state, projections, application_roles, operator, history)
       VALUES ('parallel', $1, $2, $3, jsonb_build_array(jsonb_build_object('state', 'parallel', 'at', now(), 'operator', $3::text)))
       RETURNING id`,
      [projections, applicationRoles, operator],
    );
    return Number(rows[0].id);
  }

  async get(id: number): Promise<CutoverRecord | null> {
    const { rows } = await this.db.query('SELECT *, freeze_lsn::text AS freeze_lsn FROM tandem.cutovers WHERE id = $1', [id]);
    return rows.length === 0 ? null : toRecord(rows[0]);
  }

  async latestId(): Promise<number | null> {
    const { rows } = await this.db.query<{ id: string }>('SELECT id FROM tandem.cutovers ORDER BY id DESC LIMIT 1');
    return rows.length === 0 ? null : Number(rows[0].id);
  }

  /** The latest cutover, or the one given. */
  async find(id?: number): Promise<CutoverRecord | null> {
    const found = id ?? (await this.latestId());
    return found === null ? null : this.get(found);
  }

  /** A cutover that is neither committed nor aborted, if any. */
  async active(): Promise<{ id: number; state: CutoverState } | null> {
    const { rows } = await this.db.query<{ id: string; state: CutoverState }>(
      'SELECT id, state FROM tandem.cutovers WHERE state = ANY($1) ORDER BY id LIMIT 1',
      [ACTIVE_CUTOVER_STATES],
    );
    return rows.length === 0 ? null : { id: Number(rows[0].id), state: rows[0].state };
  }

  /** Keeps the reports of a verification that failed, without a transition. */
  async recordReconciliations(id: number, reconciliationIds: number[]): Promise<void> {
    await this.db.query('UPDATE tandem.cutovers SET reconciliation_ids = $2 WHERE id = $1', [id, reconciliationIds]);
  }

  /** Moves to `state`, appending it (with its operator and reason) to the history. */
  async transition(id: number, state: CutoverState, operator: string, changes: CutoverChanges, reason?: string): Promise<void> {
    const values: unknown[] = [id, state, operator, reason ?? null];
    const set = (column: string, value: unknown) => {
      values.push(value);
      return `${column} = $${values.length}`;
    };
    const assignments = (changes.now ?? []).map((column) => `${column} = now()`);
    if (changes.freezeLsn !== undefined) assignments.push(set('freeze_lsn', changes.freezeLsn));
    if (changes.offsets !== undefined) assignments.push(set('offsets', JSON.stringify(changes.offsets)));
    if (changes.reconciliationIds !== undefined) assignments.push(set('reconciliation_ids', changes.reconciliationIds));
    if (changes.backupIds !== undefined) assignments.push(set('backup_ids', changes.backupIds));
    if (changes.measureFreezeWindow)
      assignments.push(
        'freeze_window_ms = CASE WHEN frozen_at IS NULL THEN NULL ELSE (EXTRACT(EPOCH FROM (now() - frozen_at)) * 1000)::bigint END',
      );
    await this.db.query(
      `UPDATE tandem.cutovers SET state = $2, reason = COALESCE($4, reason)${assignments.map((a) => `, ${a}`).join('')},
              history = history || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object('state', $2::text, 'at', now(), 'operator', $3::text, 'reason', $4::text)))
        WHERE id = $1`,
      values,
    );
  }
}
