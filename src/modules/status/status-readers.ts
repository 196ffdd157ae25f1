import type { PartitionEnd } from '../../contracts/positions';
import type { FailbackLag } from '../failback/failback-lag';
import type { CutoverSummary, KafkaReachability, ReconciliationSummary } from './pipeline-status';
import type { BackfillRequestRow } from '../../connectors/postgres-source/signal-table';

/** The source slot as PostgreSQL reports it (pg_replication_slots, pg_stat_replication). */
export interface SlotReading {
  slot: string;
  publication: string;
  /** pg_current_wal_lsn() of the source, read in the same query. */
  currentWalLsn: string;
  /** false when the slot does not exist (the other slot fields are then null/false). */
  slotFound: boolean;
  active: boolean;
  confirmedFlushLsn: string | null;
  restartLsn: string | null;
  /** pg_stat_replication.flush_lag of the walsender holding the slot, in seconds (null when idle or unknown). */
  flushLagSeconds: number | null;
}

export interface CheckpointReading {
  topic: string;
  partition: number;
  offset: bigint;
  commitLsn: bigint | null;
  updatedAt: Date;
}

export interface QuarantineReading {
  count: number;
  newest: Array<{ id: number; reason: string; at: string }>;
}

/** Reads the source database's replication slot. */
export interface SourceSlotReader {
  readSlot(slot: string, publication: string): Promise<SlotReading>;
  /** The slot's backfill requests with the progress capture wrote beside them (none before capture made the signal table). */
  readBackfills?(signalTable: string, slot: string): Promise<BackfillRequestRow[]>;
}

/**
 * Reads the end offsets of topics (read_committed high watermarks); a topic that does not exist yet has
 * none. The one reader that holds a connection of its own (a Kafka admin): the others read through the
 * process's pools.
 */
export interface TopicOffsetsReader {
  endOffsets(topics: string[]): Promise<PartitionEnd[]>;
  close(): Promise<void>;
}

/** Reads what Tandem keeps in the target's `tandem` schema. Empty results while that schema does not exist. */
export interface TandemStateReader {
  checkpoints(projection: string): Promise<CheckpointReading[]>;
  quarantine(projection: string, newest: number): Promise<QuarantineReading>;
  lastReconciliations(projections: string[]): Promise<ReconciliationSummary[]>;
  latestCutover(): Promise<CutoverSummary | null>;
}

/** Reads the active failback's lag (failback-lag.ts); null when none is active. */
export interface FailbackReader {
  read(): Promise<FailbackLag | null>;
}

export interface StatusReaders {
  source: SourceSlotReader;
  /** Absent without a target database. */
  failback?: FailbackReader;
  topics: TopicOffsetsReader;
  /** null when the configuration has no target database. */
  state: TandemStateReader | null;
}

/** Everything one status read gathered, before any arithmetic (status-model.ts turns it into a PipelineStatus). */
export interface PipelineReading {
  at: Date;
  slot: SlotReading;
  /** End offsets of capture's change topics (one per source table). */
  captureTopics: PartitionEnd[];
  /** Whether Kafka answered this read; when not, no end offsets are known (`ends` null). */
  kafka: KafkaReachability;
  projections: Array<{
    name: string;
    ends: PartitionEnd[] | null;
    checkpoints: CheckpointReading[];
    quarantine: QuarantineReading;
  }>;
  reconciliations: ReconciliationSummary[];
  cutover: CutoverSummary | null;
  backfills?: BackfillRequestRow[];
  failback?: FailbackLag | null;
}
