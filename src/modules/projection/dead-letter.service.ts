import type { Pool } from 'pg';
import { listQuarantine, markRedriven, type QuarantinedEvent } from '../../connectors/postgres-target/quarantine-store';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { applyBatch } from '../../projections/framework/batch-applier';
import { decodeRecord } from '../../projections/framework/event-decoder';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';

export interface RedriveResult {
  id: number;
  outcome: 'applied' | 'quarantined again';
  reason?: string;
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

  /** Re-applies each event through the projection; one that still fails stays quarantined with its new reason. */
  async redrive(definition: ProjectionDefinition<unknown>, ids: number[] | null): Promise<RedriveResult[]> {
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
