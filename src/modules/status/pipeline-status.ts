import type { BackfillListing } from '../capture/backfill/backfill-requests';
import type { FailbackLag } from '../failback/failback-lag';
/**
 * What `tandem status`, the admin API's /api/status, the status page and /metrics all show: one read of
 * the pipeline's state. Built by StatusService (status.service.ts) from the source database (slot), Kafka
 * (topic end offsets, capture position record) and the target's `tandem` schema.
 */
export interface PipelineStatus {
  /** When this status was read (ISO 8601). */
  readAt: string;
  /** Kafka unreachable: the source, checkpoints, quarantine and the rest are still shown; lags are null. */
  kafka: KafkaReachability;
  source: SourceSlotStatus[];
  projections: ProjectionStatus[];
  lastReconciliations: ReconciliationSummary[];
  cutover: CutoverSummary | null;
  /** Backfills of the slot (tandem backfill), oldest first: table, rows read, chunks done and left, rate. */
  backfills: BackfillListing[];
  /** The latest cutover's failback while it runs (tandem failback): capture and apply lag; null otherwise. */
  failback: FailbackLag | null;
}

export interface KafkaReachability {
  reachable: boolean;
  /** Why not, when not (no connection string, no password). */
  error: string | null;
}

export interface SourceSlotStatus {
  slot: string;
  publication: string;
  /** 'streaming' (a capture holds the slot), 'idle' (slot exists, nobody attached), 'missing'. */
  state: 'streaming' | 'idle' | 'missing';
  /** pg_current_wal_lsn() - confirmed_flush_lsn, in bytes. */
  lagBytes: number | null;
  /** Seconds since the last commit Tandem acknowledged, when known. */
  lagSeconds: number | null;
  /** WAL the slot keeps on the source (pg_current_wal_lsn() - restart_lsn), in bytes. */
  retainedWalBytes: number | null;
  confirmedFlushLsn: string | null;
  /** Events per second written by capture over the sampling window, when measured. */
  eventsPerSecond: number | null;
}

export interface ProjectionStatus {
  projection: string;
  /**
   * 'running' (checkpoint moved recently or caught up), 'stalled' (lag and no progress), 'not-started',
   * 'unknown' (Kafka unreachable: the lag cannot be known).
   */
  state: 'running' | 'caught-up' | 'stalled' | 'not-started' | 'unknown';
  /** Sum over partitions of (topic end offset - checkpoint offset); null while Kafka is unreachable. */
  lagEvents: number | null;
  /** Seconds since the newest checkpoint update while lag > 0, else 0. */
  lagSeconds: number | null;
  eventsPerSecond: number | null;
  /** Highest fully applied commit LSN (text form, e.g. 0/16B3748). */
  checkpointLsn: string | null;
  /** offset: the last applied offset (-1: nothing applied yet); lag: endOffset - 2 - offset (a commit marker ends the partition). */
  partitions: Array<{ topic: string; partition: number; offset: number; endOffset: number | null; lag: number | null }>;
  quarantined: number;
  newestQuarantineReasons: Array<{ id: number; reason: string; at: string }>;
}

export interface ReconciliationSummary {
  id: number;
  projection: string;
  verdict: 'PASS' | 'FAIL';
  mismatchRatio: number;
  sourceLsn: string;
  finishedAt: string;
}

export interface CutoverSummary {
  id: number;
  state: 'parallel' | 'frozen' | 'drained' | 'verified' | 'committed' | 'aborted';
  freezeLsn: string | null;
  operator: string;
  updatedAt: string;
  history: Array<{ state: string; at: string; reason?: string }>;
}
