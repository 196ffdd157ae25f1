import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CutoverSummary, PipelineStatus } from '../status/pipeline-status';

const CUTOVER_STATES: CutoverSummary['state'][] = [
  'parallel',
  'frozen',
  'drained',
  'verified',
  'committed',
  'aborted',
];

/**
 * Tandem's Prometheus metrics, in one registry: gauges set from a PipelineStatus read (what any process
 * can see in PostgreSQL and Kafka) and the in-process ones a projector fills (batch apply latency).
 */
export class TandemMetrics {
  readonly registry = new Registry();

  private readonly gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [this.registry] });

  readonly captureEventsPerSecond = this.gauge(
    'tandem_capture_events_per_second',
    'Change events per second written by capture',
    ['slot'],
  );
  readonly sourceLagBytes = this.gauge(
    'tandem_source_lag_bytes',
    "Source WAL not yet acknowledged by capture (pg_current_wal_lsn - the slot's confirmed_flush_lsn)",
    ['slot'],
  );
  readonly sourceLagSeconds = this.gauge(
    'tandem_source_lag_seconds',
    'Seconds since the last commit capture acknowledged',
    ['slot'],
  );
  readonly slotRetainedWalBytes = this.gauge(
    'tandem_slot_retained_wal_bytes',
    'WAL the replication slot keeps on the source (pg_current_wal_lsn - restart_lsn)',
    ['slot'],
  );
  readonly slotStreaming = this.gauge(
    'tandem_source_slot_streaming',
    '1 while a capture holds the slot, 0 when idle or missing',
    ['slot'],
  );
  readonly projectorLag = this.gauge(
    'tandem_projector_lag_events',
    'Topic end offset minus the projection checkpoint, per partition',
    ['projection', 'topic', 'partition'],
  );
  readonly checkpointOffset = this.gauge(
    'tandem_projector_checkpoint_offset',
    'Last applied offset, per partition',
    ['projection', 'topic', 'partition'],
  );
  readonly projectionEventsPerSecond = this.gauge(
    'tandem_projection_events_per_second',
    'Events per second applied by the projection',
    ['projection'],
  );
  readonly quarantined = this.gauge(
    'tandem_quarantined_events',
    'Events in tandem.quarantine not yet re-driven',
    ['projection'],
  );
  readonly reconciliationMismatchRatio = this.gauge(
    'tandem_reconciliation_mismatch_ratio',
    'Mismatch ratio of the last reconciliation',
    ['projection'],
  );
  readonly reconciliationPassed = this.gauge(
    'tandem_reconciliation_passed',
    '1 when the last reconciliation passed, 0 when it failed',
    ['projection'],
  );
  readonly cutoverState = this.gauge(
    'tandem_cutover_state',
    '1 for the state of the latest cutover, 0 for the others',
    ['state'],
  );

  readonly failbackLagRecords = this.gauge(
    'tandem_failback_lag_records',
    'Target changes in the failback topics not yet applied to the legacy database',
    ['projection'],
  );
  readonly failbackCaptureLagBytes = this.gauge(
    'tandem_failback_capture_lag_bytes',
    'Target WAL the failback slot has not confirmed (pg_current_wal_lsn() - confirmed_flush_lsn)',
    ['slot'],
  );
  readonly failbackStreaming = this.gauge('tandem_failback_streaming', '1 while failback capture holds its target slot', ['slot']);

  readonly batchApplySeconds = new Histogram<'projection'>({
    name: 'tandem_batch_apply_seconds',
    help: 'Time to apply one batch to the target (rows and checkpoint in one transaction); filled by the projector process',
    labelNames: ['projection'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly eventsApplied = new Counter<'projection'>({
    name: 'tandem_projector_events_applied_total',
    help: 'Events applied by this projector process',
    labelNames: ['projection'],
    registers: [this.registry],
  });

  /** Sets the status gauges; labels that vanished (a dropped slot, a removed projection) go away. */
  observe(status: PipelineStatus): void {
    for (const gauge of [
      this.captureEventsPerSecond,
      this.sourceLagBytes,
      this.sourceLagSeconds,
      this.slotRetainedWalBytes,
      this.slotStreaming,
      this.projectorLag,
      this.checkpointOffset,
      this.projectionEventsPerSecond,
      this.quarantined,
      this.reconciliationMismatchRatio,
      this.reconciliationPassed,
      this.cutoverState,
      this.failbackLagRecords,
      this.failbackCaptureLagBytes,
      this.failbackStreaming,
    ]) {
      gauge.reset();
    }
    const set = <L extends string>(
      gauge: Gauge<L>,
      labels: Partial<Record<L, string | number>>,
      value: number | null,
    ) => {
      if (value !== null) gauge.set(labels, value);
    };
    for (const slot of status.source) {
      const labels = { slot: slot.slot };
      set(this.captureEventsPerSecond, labels, slot.eventsPerSecond);
      set(this.sourceLagBytes, labels, slot.lagBytes);
      set(this.sourceLagSeconds, labels, slot.lagSeconds);
      set(this.slotRetainedWalBytes, labels, slot.retainedWalBytes);
      set(this.slotStreaming, labels, slot.state === 'streaming' ? 1 : 0);
    }
    for (const projection of status.projections) {
      set(this.projectionEventsPerSecond, { projection: projection.projection }, projection.eventsPerSecond);
      set(this.quarantined, { projection: projection.projection }, projection.quarantined);
      for (const p of projection.partitions) {
        const labels = { projection: projection.projection, topic: p.topic, partition: p.partition };
        set(this.projectorLag, labels, p.lag);
        set(this.checkpointOffset, labels, p.offset);
      }
    }
    for (const reconciliation of status.lastReconciliations) {
      set(
        this.reconciliationMismatchRatio,
        { projection: reconciliation.projection },
        reconciliation.mismatchRatio,
      );
      set(
        this.reconciliationPassed,
        { projection: reconciliation.projection },
        reconciliation.verdict === 'PASS' ? 1 : 0,
      );
    }
    const failback = status.failback;
    if (failback) {
      set(this.failbackCaptureLagBytes, { slot: failback.slot.name }, failback.slot.behindBytes);
      set(this.failbackStreaming, { slot: failback.slot.name }, failback.slot.active ? 1 : 0);
      for (const p of failback.projections) set(this.failbackLagRecords, { projection: p.projection }, p.behindRecords);
    }
    if (status.cutover)
      for (const state of CUTOVER_STATES)
        this.cutoverState.set({ state }, status.cutover.state === state ? 1 : 0);
  }
}
