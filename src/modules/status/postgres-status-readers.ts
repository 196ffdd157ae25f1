import type { Pool } from 'pg';
import type {
  CheckpointReading,
  QuarantineReading,
  SlotReading,
  SourceSlotReader,
  TandemStateReader,
} from './status-readers';
import type { CutoverSummary, ReconciliationSummary } from './pipeline-status';
import { readBackfillRequests, type BackfillRequestRow } from '../../connectors/postgres-source/signal-table';

/** The source's replication slot, read through the process's source pool (a status read never writes). */
export class PostgresSourceSlotReader implements SourceSlotReader {
  constructor(private readonly pool: Pool) {}

  async readSlot(slot: string, publication: string): Promise<SlotReading> {
    const { rows } = await this.pool.query<{
      current_lsn: string;
      found: boolean;
      active: boolean | null;
      confirmed_flush_lsn: string | null;
      restart_lsn: string | null;
      flush_lag: number | null;
    }>(
      `SELECT pg_current_wal_lsn()::text AS current_lsn, s.slot_name IS NOT NULL AS found, s.active,
              s.confirmed_flush_lsn::text AS confirmed_flush_lsn, s.restart_lsn::text AS restart_lsn,
              EXTRACT(EPOCH FROM r.flush_lag)::float8 AS flush_lag
         FROM (SELECT 1) AS one
         LEFT JOIN pg_replication_slots s ON s.slot_name = $1
         LEFT JOIN pg_stat_replication r ON r.pid = s.active_pid`,
      [slot],
    );
    const row = rows[0];
    return {
      slot,
      publication,
      currentWalLsn: row.current_lsn,
      slotFound: row.found,
      active: row.active === true,
      confirmedFlushLsn: row.confirmed_flush_lsn,
      restartLsn: row.restart_lsn,
      flushLagSeconds: row.flush_lag,
    };
  }

  async readBackfills(signalTable: string, slot: string): Promise<BackfillRequestRow[]> {
    const { rows } = await this.pool.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [signalTable]);
    return rows[0].found ? readBackfillRequests(this.pool, signalTable, slot) : [];
  }
}

/** Checkpoints, quarantine, reconciliations and cutovers from the target's `tandem` schema (the process's target pool). */
export class PostgresTandemStateReader implements TandemStateReader {
  private schemaSeen = false;

  constructor(private readonly pool: Pool) {}

  /** Status never creates Tandem's schema: before a projector ran there is simply nothing to show. */
  private async hasSchema(): Promise<boolean> {
    if (this.schemaSeen) return true;
    const { rows } = await this.pool.query<{ ok: boolean }>(
      "SELECT to_regclass('tandem.checkpoints') IS NOT NULL AND to_regclass('tandem.cutovers') IS NOT NULL AS ok",
    );
    this.schemaSeen = rows[0].ok;
    return this.schemaSeen;
  }

  async checkpoints(projection: string): Promise<CheckpointReading[]> {
    if (!(await this.hasSchema())) return [];
    const { rows } = await this.pool.query<{
      topic: string;
      partition: number;
      offset: string;
      commit_lsn: string | null;
      updated_at: Date;
    }>(
      `SELECT topic, partition, "offset"::text AS "offset", commit_lsn::text AS commit_lsn, updated_at
         FROM tandem.checkpoints WHERE projection = $1 ORDER BY topic, partition`,
      [projection],
    );
    return rows.map((row) => ({
      topic: row.topic,
      partition: row.partition,
      offset: BigInt(row.offset),
      commitLsn: row.commit_lsn === null ? null : BigInt(row.commit_lsn),
      updatedAt: row.updated_at,
    }));
  }

  async quarantine(projection: string, newest: number): Promise<QuarantineReading> {
    if (!(await this.hasSchema())) return { count: 0, newest: [] };
    const [count, recent] = await Promise.all([
      this.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM tandem.quarantine WHERE projection = $1 AND status = 'quarantined'`,
        [projection],
      ),
      this.pool.query<{ id: string; reason: string; quarantined_at: Date }>(
        `SELECT id, reason, quarantined_at FROM tandem.quarantine
          WHERE projection = $1 AND status = 'quarantined' ORDER BY id DESC LIMIT $2`,
        [projection, newest],
      ),
    ]);
    return {
      count: Number(count.rows[0].n),
      newest: recent.rows.map((row) => ({
        id: Number(row.id),
        reason: row.reason,
        at: row.quarantined_at.toISOString(),
      })),
    };
  }

  async lastReconciliations(projections: string[]): Promise<ReconciliationSummary[]> {
    if (!(await this.hasSchema())) return [];
    const { rows } = await this.pool.query<{
      id: string;
      projection: string;
      verdict: 'PASS' | 'FAIL';
      mismatch_ratio: number;
      source_lsn: string;
      finished_at: Date;
    }>(
      `SELECT DISTINCT ON (projection) id, projection, verdict, mismatch_ratio, source_lsn::text AS source_lsn, finished_at
         FROM tandem.reconciliations WHERE projection = ANY($1)
        ORDER BY projection, id DESC`,
      [projections],
    );
    return rows.map((row) => ({
      id: Number(row.id),
      projection: row.projection,
      verdict: row.verdict,
      mismatchRatio: row.mismatch_ratio,
      sourceLsn: row.source_lsn,
      finishedAt: row.finished_at.toISOString(),
    }));
  }

  async latestCutover(): Promise<CutoverSummary | null> {
    if (!(await this.hasSchema())) return null;
    const { rows } = await this.pool.query<{
      id: string;
      state: CutoverSummary['state'];
      freeze_lsn: string | null;
      operator: string;
      updated_at: Date;
      history: Array<{ state: string; at: string; reason?: string }>;
    }>(
      `SELECT id, state, freeze_lsn::text AS freeze_lsn, operator, history,
              GREATEST(planned_at, frozen_at, drained_at, verified_at, committed_at, aborted_at) AS updated_at
         FROM tandem.cutovers ORDER BY id DESC LIMIT 1`,
    );
    if (rows.length === 0) return null;
    const row = rows[0];
    return {
      id: Number(row.id),
      state: row.state,
      freezeLsn: row.freeze_lsn,
      operator: row.operator,
      updatedAt: row.updated_at.toISOString(),
      history: row.history.map((step) => ({
        state: step.state,
        at: step.at,
        ...(step.reason ? { reason: step.reason } : {}),
      })),
    };
  }
}
