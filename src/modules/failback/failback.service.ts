import type { Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { createKafka } from '../../connectors/kafka/kafka-client';
import { failbackNames } from '../../contracts/failback-names';
import { tableTopic } from '../../contracts/names';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { projectionDefinitions, targetPool } from '../projection/projection.service';
import { CaptureService, type CaptureStatus } from '../capture/capture.service';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { dropTargetCapture, failbackTables, prepareFailback, withClient } from '../cutover/failback-setup';
import { FailbackRefusedError } from '../../shared/errors';
import { cutoverSummary, failbackStore, type FailbackRecord } from '../cutover/failback-store';
import { FailbackApplier, type FailbackApplierStatus } from './failback-applier';

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
}

/**
 * `tandem failback`: after a committed cutover, captures the target's changes to the projections'
 * tables (failback slot, `<prefix>.failback.*` topics) and applies them to the legacy tables
 * through each projection's inverse.
 */
export class FailbackService {
  private readonly pool: Pool;
  private capture: CaptureService | null = null;
  private appliers: FailbackApplier[] = [];

  constructor(
    private readonly config: TandemConfig,
    private readonly logger: Logger,
  ) {
    this.pool = targetPool(config, logger);
  }

  get names() {
    return failbackNames(this.config.kafka.topicPrefix, this.config.source.slot, this.config.source.publication);
  }

  /** The committed cutover's failback, prepared now if the commit did not (or it was stopped). */
  async prepare(cutoverId: number | undefined, operator: string): Promise<FailbackRecord> {
    await ensureTandemSchema(this.pool);
    const cutover = await cutoverSummary(this.pool, cutoverId);
    if (!cutover) throw new FailbackRefusedError(cutoverId === undefined ? 'failback: no cutover recorded yet' : `failback: no cutover ${cutoverId}`);
    if (cutover.state !== 'committed') throw new FailbackRefusedError(`failback: cutover ${cutover.id} is ${cutover.state}; failback follows a committed cutover`);
    const prepared = await prepareFailback(this.config, this.pool, cutover, operator, { requireAll: true });
    if (!prepared) throw new FailbackRefusedError(`failback: cutover ${cutover.id} has no projection to carry back`);
    return prepared;
  }

  definitionsOf(record: FailbackRecord): ProjectionDefinition<unknown>[] {
    return projectionDefinitions(this.config).filter((definition) => record.projections.includes(definition.name));
  }

  /** Runs failback capture and the appliers until stop() (or a failure of either). */
  async run(record: FailbackRecord, parts: { capture: boolean; apply: boolean } = { capture: true, apply: true }): Promise<void> {
    const definitions = this.definitionsOf(record);
    const tables = failbackTables(definitions);
    const captureConfig = failbackCaptureConfig(this.config, tables);
    const kafka = createKafka(this.config.kafka, `${this.config.kafka.clientId}-failback`, this.logger);
    const running: Array<Promise<void>> = [];
    if (parts.capture) {
      this.capture = new CaptureService(captureConfig, this.logger.child({ module: 'failback-capture' }));
      running.push(this.capture.run({ adoptSlot: true }));
    }
    if (parts.apply) {
      for (const definition of definitions) {
        const applier = new FailbackApplier({
          definition,
          names: this.names,
          topics: definition.invert!.tables.map((table) => tableTopic(this.names.topicPrefix, definition.schema, table)),
          partitions: this.config.kafka.partitions,
          replicationFactor: this.config.kafka.replicationFactor,
          maxBatchEvents: this.config.projector.maxBatchEvents,
          kafka,
          legacyUrl: this.config.source.url,
          target: this.pool,
          logger: this.logger.child({ module: 'failback-apply' }),
        });
        this.appliers.push(applier);
        await applier.start();
      }
      running.push(new Promise<void>((resolve) => (this.resolveApply = resolve)));
    }
    await Promise.all(running);
  }

  private resolveApply: (() => void) | null = null;

  status(): FailbackRunStatus {
    return { capture: this.capture?.status() ?? null, appliers: this.appliers.map((applier) => ({ ...applier.statusValue, lag: { ...applier.statusValue.lag } })) };
  }

  /** Stops capture (flushing and acknowledging) and the appliers; run() then returns. */
  async stop(): Promise<void> {
    await this.capture?.stop();
    for (const applier of this.appliers) await applier.stop();
    this.appliers = [];
    this.resolveApply?.();
  }

  /** Ends a failback for good: the target slot and publication are dropped, the record says stopped. */
  async end(cutoverId: number | undefined, state: 'stopped' | 'rolled-back' = 'stopped', rollback?: Record<string, unknown>): Promise<FailbackRecord> {
    const record = await this.record(cutoverId);
    await withClient(this.config.target!.url, (client) => dropTargetCapture(client, record.slot, record.publication));
    await failbackStore.finish(this.pool, record.cutoverId, state, rollback);
    return (await failbackStore.get(this.pool, record.cutoverId))!;
  }

  async record(cutoverId?: number): Promise<FailbackRecord> {
    await ensureTandemSchema(this.pool);
    const record = cutoverId === undefined ? await failbackStore.latest(this.pool) : await failbackStore.get(this.pool, cutoverId);
    if (!record) throw new FailbackRefusedError(cutoverId === undefined ? 'failback: none recorded yet' : `failback: cutover ${cutoverId} has no failback`);
    return record;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
