import type { Pool, PoolClient } from 'pg';
import { applyBatch, planAhead, type BatchItem, type PlannedStatements, type Quarantined } from '../framework/batch-applier';
import type { ProjectionDefinition } from '../framework/define-projection';
import type { ChunkResult, ProjectionSink } from './sink';
import type { TimeSlicer } from './time-slicer';

/**
 * Applies each chunk to a projection's tables in a target transaction, without checkpoints: a
 * replay's shadow schema (shadowSink), or the live tables for a re-drive of quarantined events.
 */
export class TargetSink implements ProjectionSink {
  constructor(
    private readonly pool: Pool,
    private readonly definition: ProjectionDefinition<unknown>,
    /** Runs in each chunk's transaction just before it commits, with what is being quarantined. */
    private readonly beforeCommit?: (client: PoolClient, quarantined: Quarantined[]) => Promise<void>,
  ) {}

  planAhead(items: BatchItem[], slicer: TimeSlicer): Promise<PlannedStatements> {
    return planAhead(this.definition, items, slicer);
  }

  async write(items: BatchItem[], planned: PlannedStatements = null): Promise<ChunkResult> {
    const result = await applyBatch(this.pool, this.definition, items, [], this.beforeCommit, planned);
    return { applied: result.applied, quarantined: result.quarantined };
  }
}

/** A replay's sink: the projection's tables in the shadow schema it rebuilds (the checkpoints come with the swap). */
export function shadowSink(pool: Pool, definition: ProjectionDefinition<unknown>, shadowSchema: string): ProjectionSink {
  return new TargetSink(pool, { ...definition, schema: shadowSchema });
}
