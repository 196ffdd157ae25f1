import { randomUUID } from 'crypto';
import type { Pool } from 'pg';
import { loadCheckpoints } from '../../connectors/postgres-target/checkpoint-store';
import { dryRunGroup } from '../../contracts/names';
import { quarantined, type BatchItem } from '../framework/batch-applier';
import type { ProjectionDefinition } from '../framework/define-projection';
import type { ChunkResult, RunnerSink } from './sink';

export interface PlanSinkOptions {
  definition: ProjectionDefinition<unknown>;
  /** Handed each chunk (the dry-run report); without it the sink only counts. */
  plan?: (items: BatchItem[]) => void;
  /** When a reader runs it (`tandem project --dry-run`): its group's prefix, and the target whose checkpoints it starts from when it has them. */
  reading?: { pool: Pool; topicPrefix: string };
}

/**
 * A dry run: each chunk is planned, nothing is written (not even Tandem's own tables). Counts the
 * events that would apply and those that would be quarantined, with their reasons.
 */
export class PlanSink implements RunnerSink {
  readonly group: { id: string; deleteOnStop: boolean };

  constructor(private readonly options: PlanSinkOptions) {
    const prefix = options.reading?.topicPrefix ?? '';
    // A dry run reads on its own: it must not take partitions from the running projector's group.
    this.group = { id: dryRunGroup(prefix, options.definition.name, randomUUID()), deleteOnStop: true };
  }

  async write(items: BatchItem[]): Promise<ChunkResult> {
    const { definition } = this.options;
    this.options.plan?.(items);
    let applied = 0;
    const rejected = [];
    for (const item of items) {
      if (item.decoded.kind === 'apply') applied++;
      else if (item.decoded.kind === 'reject')
        rejected.push(quarantined(definition, item.record, item.decoded.reason, item.decoded.value));
    }
    return { applied, quarantined: rejected };
  }

  async prepare(): Promise<void> {}
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async afterBatch(): Promise<void> {}

  /**
   * A dry run's checkpoints never move: after a rejoin of its group it goes on after what it planned
   * already, instead of planning (and counting) those records again.
   */
  async startOffset(partition: string, readUpTo: bigint | undefined): Promise<bigint | null> {
    if (readUpTo !== undefined) return readUpTo + 1n;
    const target = this.options.reading;
    if (!target) return null;
    const { rows } = await target.pool.query(`SELECT to_regclass('tandem.checkpoints') IS NOT NULL AS present`);
    if (!rows[0].present) return null;
    const checkpoint = (await loadCheckpoints(target.pool, this.options.definition.name)).get(partition);
    return checkpoint ? checkpoint.offset + 1n : null;
  }
}
