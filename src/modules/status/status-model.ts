import { formatLsn, parseLsn } from '../../shared/lsn';
import type { PipelineStatus, ProjectionStatus, SourceSlotStatus } from './pipeline-status';
import type { CheckpointReading, PipelineReading } from './status-readers';
import { recordsBehind, type PartitionEnd } from '../../contracts/positions';
import { listing } from '../capture/backfill/backfill-requests';

/**
 * The counters of one status read that rates are derived from. Kept by StatusSampler, so a
 * long-running caller gets rates (and a lag in seconds) over its last minutes.
 */
export interface StatusSample {
  at: number;
  /** Sum of capture's change-topic end offsets: grows by one per event written (and per transaction marker). */
  captureRecords: bigint | null;
  walLsn: bigint;
  confirmedLsn: bigint | null;
  /** Per projection: records applied (sum over its checkpoints of offset + 1). */
  applied: Record<string, bigint>;
}

export interface StatusModelOptions {
  /** Rates are taken between the newest sample and the oldest one this recent. */
  rateWindowMs: number;
  /** A lagging projection whose checkpoint has not moved for this long is `stalled`. */
  stallAfterMs: number;
}

export const DEFAULT_STATUS_OPTIONS: StatusModelOptions = { rateWindowMs: 60_000, stallAfterMs: 60_000 };

export function sampleOf(reading: PipelineReading): StatusSample {
  const { slot } = reading;
  return {
    at: reading.at.getTime(),
    captureRecords:
      reading.captureTopics.length === 0 ? null : reading.captureTopics.reduce((sum, p) => sum + p.end, 0n),
    walLsn: parseLsn(slot.currentWalLsn),
    confirmedLsn: slot.confirmedFlushLsn === null ? null : parseLsn(slot.confirmedFlushLsn),
    applied: Object.fromEntries(reading.projections.map((p) => [p.name, appliedRecords(p.checkpoints)])),
  };
}

const appliedRecords = (checkpoints: CheckpointReading[]) =>
  checkpoints.reduce((sum, c) => sum + c.offset + 1n, 0n);

/**
 * Per second, between the newest sample and the oldest sample within the window; null with fewer
 * than two samples, or when the counter went backwards (a replay or re-snapshot reset it).
 */
export function ratePerSecond(
  samples: StatusSample[],
  counter: (sample: StatusSample) => bigint | null | undefined,
  windowMs: number,
): number | null {
  const newest = samples[samples.length - 1];
  const now = newest ? counter(newest) : null;
  if (!newest || now === null || now === undefined) return null;
  const base = samples.find(
    (s) =>
      s !== newest &&
      s.at < newest.at &&
      s.at >= newest.at - windowMs &&
      counter(s) !== null &&
      counter(s) !== undefined,
  );
  if (!base) return null;
  const delta = now - counter(base)!;
  if (delta < 0n) return null;
  return round(Number(delta) / ((newest.at - base.at) / 1000));
}

/** Lag in records of one partition (the rule: contracts/positions.ts). */
export function partitionLag(end: PartitionEnd, applied: bigint | null): number {
  return recordsBehind(end.low, end.end, applied);
}

/**
 * Seconds the slot's confirmed position trails the source's WAL. From the samples: the newest
 * sample whose WAL position the slot has confirmed since bounds the lag from above. From
 * PostgreSQL: the walsender's flush_lag (null there means caught up). The smaller known value wins.
 */
export function sourceLagSeconds(
  samples: StatusSample[],
  slot: { found: boolean; active: boolean; lagBytes: number | null; flushLagSeconds: number | null },
): number | null {
  if (!slot.found || slot.lagBytes === null) return null;
  if (slot.lagBytes <= 0) return 0;
  const newest = samples[samples.length - 1];
  const candidates: number[] = [];
  if (newest && newest.confirmedLsn !== null) {
    const confirmed = newest.confirmedLsn;
    const passed = [...samples].reverse().find((s) => s !== newest && s.walLsn <= confirmed);
    if (passed) candidates.push((newest.at - passed.at) / 1000);
  }
  if (slot.active) candidates.push(slot.flushLagSeconds ?? 0);
  return candidates.length === 0 ? null : round(Math.min(...candidates));
}

export function buildStatus(
  reading: PipelineReading,
  samples: StatusSample[],
  options: StatusModelOptions = DEFAULT_STATUS_OPTIONS,
): PipelineStatus {
  const now = reading.at.getTime();
  return {
    readAt: reading.at.toISOString(),
    kafka: reading.kafka,
    source: [sourceStatus(reading, samples, options)],
    projections: reading.projections.map((p) => projectionStatus(p, now, samples, options)),
    lastReconciliations: reading.reconciliations,
    cutover: reading.cutover,
    backfills: (reading.backfills ?? []).map((row) => listing(row.id, row.data, row.progress, row.createdAt)),
    failback: reading.failback ?? null,
  };
}

function sourceStatus(
  reading: PipelineReading,
  samples: StatusSample[],
  options: StatusModelOptions,
): SourceSlotStatus {
  const { slot } = reading;
  const wal = parseLsn(slot.currentWalLsn);
  const bytesBehind = (lsn: string | null) =>
    lsn === null ? null : Math.max(0, Number(wal - parseLsn(lsn)));
  const lagBytes = slot.slotFound ? bytesBehind(slot.confirmedFlushLsn) : null;
  return {
    slot: slot.slot,
    publication: slot.publication,
    state: !slot.slotFound ? 'missing' : slot.active ? 'streaming' : 'idle',
    lagBytes,
    lagSeconds: sourceLagSeconds(samples, {
      found: slot.slotFound,
      active: slot.active,
      lagBytes,
      flushLagSeconds: slot.flushLagSeconds,
    }),
    retainedWalBytes: slot.slotFound ? bytesBehind(slot.restartLsn) : null,
    confirmedFlushLsn: slot.confirmedFlushLsn,
    eventsPerSecond: ratePerSecond(samples, (s) => s.captureRecords, options.rateWindowMs),
  };
}

function projectionStatus(
  reading: PipelineReading['projections'][number],
  now: number,
  samples: StatusSample[],
  options: StatusModelOptions,
): ProjectionStatus {
  const partitions = partitionsOf(reading);
  const lagEvents = reading.ends === null ? null : partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0);
  const eventsPerSecond = ratePerSecond(samples, (s) => s.applied[reading.name], options.rateWindowMs);
  const newestUpdate = reading.checkpoints.reduce<number | null>(
    (newest, c) => Math.max(newest ?? 0, c.updatedAt.getTime()),
    null,
  );
  const lsns = reading.checkpoints.map((c) => c.commitLsn).filter((lsn): lsn is bigint => lsn !== null);
  const checkpointLsn = lsns.length === 0 ? null : formatLsn(lsns.reduce((a, b) => (a > b ? a : b)));

  let state: ProjectionStatus['state'];
  if (newestUpdate === null) state = 'not-started';
  else if (lagEvents === null) state = 'unknown';
  else if (lagEvents === 0) state = 'caught-up';
  else if ((eventsPerSecond ?? 0) > 0 || now - newestUpdate < options.stallAfterMs) state = 'running';
  else state = 'stalled';

  return {
    projection: reading.name,
    state,
    lagEvents,
    lagSeconds:
      lagEvents === null ? null : lagEvents === 0 ? 0 : newestUpdate === null ? null : round(Math.max(0, now - newestUpdate) / 1000),
    eventsPerSecond,
    checkpointLsn,
    partitions,
    quarantined: reading.quarantine.count,
    newestQuarantineReasons: reading.quarantine.newest,
  };
}

/** Per partition, the checkpoint against the topic's end; without Kafka, the checkpoints alone. */
function partitionsOf(reading: PipelineReading['projections'][number]): ProjectionStatus['partitions'] {
  if (reading.ends === null)
    return reading.checkpoints.map((c) => ({
      topic: c.topic,
      partition: c.partition,
      offset: Number(c.offset),
      endOffset: null,
      lag: null,
    }));
  const byPartition = new Map(reading.checkpoints.map((c) => [`${c.topic}#${c.partition}`, c]));
  return reading.ends.map((end) => {
    const checkpoint = byPartition.get(`${end.topic}#${end.partition}`) ?? null;
    return {
      topic: end.topic,
      partition: end.partition,
      offset: checkpoint ? Number(checkpoint.offset) : -1,
      endOffset: Number(end.end),
      lag: partitionLag(end, checkpoint?.offset ?? null),
    };
  });
}

const round = (value: number) => Math.round(value * 100) / 100;
