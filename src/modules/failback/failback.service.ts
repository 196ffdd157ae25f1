import type { Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import type { TandemConfig } from '../config/config.schema';
import { failbackNames } from '../../contracts/failback-names';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import { TandemService } from '../core/tandem-resources';
import { CaptureService, type CaptureStatus } from '../capture/capture.service';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { failbackTables, prepareFailback } from '../cutover/failback-setup';
import { endFailback } from '../../connectors/postgres-target/failback-end';
import { FailbackRefusedError } from '../../shared/errors';
import { redactSecrets } from '../../shared/redact';
import { cutoverSummary, failbackStore, type FailbackRecord } from '../../connectors/postgres-target/failback-repository';
import { FailbackApplier, type FailbackApplierStatus } from './failback-applier';
import { failbackTopics, readFailbackLag, type FailbackLag } from './failback-lag';

/** The configuration of failback's capture: the same capture, pointed at the target's failback slot. */
export function failbackCaptureConfig(config: TandemConfig, tables: string[]): TandemConfig {
  const names = failbackNames(config.kafka.topicPrefix, config.source.slot, config.source.publication);
  return {
    ...config,
    source: { ...config.source, url: config.target!.url, slot: names.slot, publication: names.publication, tables, snapshot: { ...config.source.snapshot, mode: 'never' } },
    kafka: { ...config.kafka, topicPrefix: names.topicPrefix, clientId: `${config.kafka.clientId}-failback` },
  };
}

export interface FailbackRunStatus {
  capture: CaptureStatus | null;
  appliers: FailbackApplierStatus[];
  /** Why run() ended with an error (capture's or an applier's), secrets redacted; null while it runs or after a stop. */
  failure: string | null;
}

/**
 * `tandem failback`: after a committed cutover, captures the target's changes to the projections'
 * tables (failback slot, `<prefix>.failback.*` topics) and applies them to the legacy tables
 * through each projection's inverse.
 */
export class FailbackService extends TandemService {
  private capture: CaptureService | null = null;
  private appliers: FailbackApplier[] = [];

  get targetPool(): Pool {
    return this.resources.target;
  }

  /** The legacy database (the source pool of the process). */
  get legacyPool(): Pool {
    return this.resources.source;
  }

  get kafka(): Kafka {
    return this.resources.kafka;
  }

  get names() {
    return failbackNames(this.config.kafka.topicPrefix, this.config.source.slot, this.config.source.publication);
  }

  /** The committed cutover's failback, prepared now if the commit did not (or it was stopped). */
  async prepare(cutoverId: number | undefined, operator: string): Promise<FailbackRecord> {
    await ensureTandemSchema(this.targetPool);
    const cutover = await cutoverSummary(this.targetPool, cutoverId);
    if (!cutover) throw new FailbackRefusedError(cutoverId === undefined ? 'failback: no cutover recorded yet' : `failback: no cutover ${cutoverId}`);
    if (cutover.state !== 'committed') throw new FailbackRefusedError(`failback: cutover ${cutover.id} is ${cutover.state}; failback follows a committed cutover`);
    const prepared = await prepareFailback(this.config, this.targetPool, cutover, operator, { requireAll: true });
    if (!prepared) throw new FailbackRefusedError(`failback: cutover ${cutover.id} has no projection to carry back`);
    return prepared;
  }

  /** The failback's projections, whole (a mirror's tables resolved, so its inverse is known). */
  async definitionsOf(record: FailbackRecord): Promise<ProjectionDefinition<unknown>[]> {
    const definitions = await resolveProjectionDefinitions(this.config, undefined, this.targetPool);
    return definitions.filter((definition) => record.projections.includes(definition.name));
  }

  /** Runs failback capture and the appliers until stop() (or a failure of either). */
  async run(record: FailbackRecord, parts: { capture: boolean; apply: boolean } = { capture: true, apply: true }): Promise<void> {
    this.failure = null;
    const definitions = await this.definitionsOf(record);
    const tables = failbackTables(definitions);
    const captureConfig = failbackCaptureConfig(this.config, tables);
    const kafka = this.kafka;
    const running: Array<Promise<void>> = [];
    if (parts.apply) {
      for (const definition of definitions) {
        const applier = new FailbackApplier({
          definition,
          names: this.names,
          topics: failbackTopics(this.names, definition),
          partitions: this.config.kafka.partitions,
          replicationFactor: this.config.kafka.replicationFactor,
          maxBatchEvents: this.config.projector.maxBatchEvents,
          kafka,
          legacyUrl: this.config.source.url,
          legacyReads: this.legacyPool,
          target: this.targetPool,
          logger: this.logger.child({ module: 'failback-apply' }),
        });
        this.appliers.push(applier);
        await applier.start();
      }
      running.push(new Promise<void>((resolve) => (this.resolveApply = resolve)));
    }
    // after the appliers created the topics: two creations of one topic at once fail on the broker
    if (parts.capture) {
      this.capture = new CaptureService(captureConfig, this.logger.child({ module: 'failback-capture' }));
      running.push(this.capture.run({ adoptSlot: true }));
    }
    try {
      await Promise.all(running);
    } catch (error) {
      this.failure = redactSecrets((error as Error).message);
      throw error;
    } finally {
      // capture failed (or stopped): the appliers stop with it
      for (const applier of this.appliers.splice(0)) await applier.stop().catch(() => undefined);
      this.resolveApply?.();
    }
  }

  private resolveApply: (() => void) | null = null;
  private failure: string | null = null;

  status(): FailbackRunStatus {
    return {
      capture: this.capture?.status() ?? null,
      appliers: this.appliers.map((applier) => ({ ...applier.statusValue, lag: { ...applier.statusValue.lag } })),
      failure: this.failure,
    };
  }

  /** Stops capture (flushing and acknowledging) and the appliers; run() then returns. */
  async stop(): Promise<void> {
    await this.capture?.stop();
    for (const applier of this.appliers) await applier.stop();
    this.appliers = [];
    this.resolveApply?.();
  }

  /**
   * Ends a failback for good: the target slot and publication are dropped, the table settings it
   * changed restored, the record says how it ended. Ending an ended failback again does the same
   * (nothing left to undo) and keeps its state.
   */
  async end(cutoverId: number | undefined, state: 'stopped' | 'rolled-back' = 'stopped', rollback?: Record<string, unknown>): Promise<FailbackRecord> {
    const record = await this.record(cutoverId);
    return endFailback(this.targetPool, record, record.state === 'active' ? state : record.state, rollback);
  }

  async record(cutoverId?: number): Promise<FailbackRecord> {
    await ensureTandemSchema(this.targetPool);
    const record = cutoverId === undefined ? await failbackStore.latest(this.targetPool) : await failbackStore.get(this.targetPool, cutoverId);
    if (!record) throw new FailbackRefusedError(cutoverId === undefined ? 'failback: none recorded yet' : `failback: cutover ${cutoverId} has no failback`);
    return record;
  }

  /** How far the legacy database is behind the target (tandem failback status, the rollback gate). */
  async readLag(cutoverId?: number): Promise<FailbackLag> {
    const record = await this.record(cutoverId);
    return readFailbackLag(record, await this.definitionsOf(record), this.names, { target: this.targetPool, legacy: this.legacyPool }, this.kafka);
  }

  async close(): Promise<void> {
    await this.closeOwnResources();
  }
}
