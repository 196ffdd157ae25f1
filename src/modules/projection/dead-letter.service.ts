import type { Pool } from 'pg';
import {
  listQuarantine,
  markRedriven,
  pageQuarantine,
  type QuarantinedEvent,
  type QuarantineSummary,
} from '../../connectors/postgres-target/quarantine-store';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { applyBatch } from '../../projections/framework/batch-applier';
import { decodeRecord } from '../../projections/framework/event-decoder';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';

export interface RedriveResult {
  id: number;
  /** With --dry-run: 'would apply' or 'still invalid' (target constraints are only checked by a real re-drive). */
  outcome: 'applied' | 'quarantined again' | 'would apply' | 'still invalid';
  reason?: string;
  /** With --dry-run: the row operations the event would write. */
  operations?: number;
}

/** Lists quarantined events and re-applies them after a fix (`tandem dlq list|redrive`). */
export class DeadLetterService {
  constructor(
    private readonly pool: Pool,
    private readonly topicPrefix: string,
  ) {}

  async list(projection: string | null, includeRedriven = false): Promise<QuarantinedEvent[]> {
    await ensureTandemSchema(this.pool);
    return listQuarantine(this.pool, projection, includeRedriven ? null : 'quarantined');
  }

  /** One page of quarantined events (ids after `afterId`), without their payloads. */
  async page(projection: string | null, includeRedriven: boolean, afterId: number, limit: number): Promise<QuarantineSummary[]> {
    await ensureTandemSchema(this.pool);
    return pageQuarantine(this.pool, { projection, status: includeRedriven ? null : 'quarantined', afterId, limit });
  }

  /**
   * Re-applies each event through the projection; one that still fails stays quarantined with its new reason.
   * A dry run only decodes and plans each event (writes nothing).
   */
  async redrive(definition: ProjectionDefinition<unknown>, ids: number[] | null, dryRun = false): Promise<RedriveResult[]> {
    const entries = (await this.list(definition.name)).filter((entry) => ids === null || ids.includes(entry.id));
    const results: RedriveResult[] = [];
    for (const entry of entries) {
      const record = {
        topic: entry.topic,
        partition: entry.partition,
        offset: entry.offset,
        key: entry.sourceKey,
        value: typeof entry.event === 'string' ? entry.event : JSON.stringify(entry.event),
      };
      const item = { record, decoded: decodeRecord(definition, this.topicPrefix, record) };
      if (dryRun) {
        const { decoded } = item;
        results.push(
          decoded.kind === 'reject'
            ? { id: entry.id, outcome: 'still invalid', reason: decoded.reason }
            : { id: entry.id, outcome: 'would apply', operations: decoded.kind === 'apply' ? decoded.operations.length : 0 },
        );
        continue;
      }
      const result = await applyBatch(this.pool, definition, [item], [], async (client, quarantined) => {
        if (quarantined.length === 0) await markRedriven(client, entry.id);
      });
      results.push(
        result.quarantined.length === 0
          ? { id: entry.id, outcome: 'applied' }
          : { id: entry.id, outcome: 'quarantined again', reason: result.quarantined[0].reason },
      );
    }
    return results;
  }
}
