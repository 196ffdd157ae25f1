import type { Pool } from 'pg';
import {
  listQuarantine,
  markRedriven,
  pageQuarantine,
  type QuarantinedEvent,
  type QuarantineSummary,
} from '../../connectors/postgres-target/quarantine-store';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { positionKey, readRecordsAt, type RecordPosition } from '../../connectors/kafka/record-reader';
import type { TandemResources } from '../core/tandem-resources';
import type { TandemConfig } from '../config/config.schema';
import { hasLeftOutFields } from '../../projections/framework/sensitive-fields';
import { sourcedOperations } from '../../projections/framework/batch-applier';
import { runPipeline } from '../../projections/pipeline/pipeline';
import { PlanSink } from '../../projections/pipeline/plan-sink';
import { TargetSink } from '../../projections/pipeline/shadow-sink';
import type { ProjectionSink } from '../../projections/pipeline/sink';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';

export interface RedriveResult {
  id: number;
  /** With --dry-run: 'would apply' or 'still invalid' (target constraints are only checked by a real re-drive). */
  outcome: 'applied' | 'quarantined again' | 'would apply' | 'still invalid';
  reason?: string;
  /** With --dry-run: the row operations the event would write. */
  operations?: number;
}

/** Reads events again from their change topics (for those stored with sensitive fields left out). */
export type RecordReader = (positions: RecordPosition[]) => Promise<Map<string, string | null>>;

/** The DeadLetterService of a process: the shared target pool, and the shared Kafka client for re-reading events. */
export function deadLetterService(resources: TandemResources, config: TandemConfig): DeadLetterService {
  const reader: RecordReader = (positions) => readRecordsAt(resources.kafka, positions);
  return new DeadLetterService(resources.target, config.kafka.topicPrefix, reader);
}

/** Lists quarantined events and re-applies them after a fix (`tandem dlq list|redrive`). */
export class DeadLetterService {
  constructor(
    private readonly pool: Pool,
    private readonly topicPrefix: string,
    private readonly readRecords: RecordReader | null = null,
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
    const reread = await this.reread(entries.filter((entry) => hasLeftOutFields(entry.event)));
    const results: RedriveResult[] = [];
    for (const entry of entries) {
      const value = hasLeftOutFields(entry.event)
        ? reread.get(positionKey(entry))
        : typeof entry.event === 'string'
          ? entry.event
          : JSON.stringify(entry.event);
      if (value === undefined) {
        results.push({
          id: entry.id,
          outcome: dryRun ? 'still invalid' : 'quarantined again',
          reason: `its sensitive fields were left out of quarantine and ${entry.topic}[${entry.partition}]@${entry.offset} is no longer in Kafka`,
        });
        continue;
      }
      const record = { topic: entry.topic, partition: entry.partition, offset: entry.offset, key: entry.sourceKey, value };
      let operations = 0;
      const sink: ProjectionSink = dryRun
        ? new PlanSink({ definition, plan: (items) => (operations += items.flatMap(sourcedOperations).length) })
        : new TargetSink(this.pool, definition, async (client, quarantined) => {
            if (quarantined.length === 0) await markRedriven(client, entry.id);
          });
      const { quarantined } = await runPipeline({ definition, topicPrefix: this.topicPrefix, maxBatchEvents: 1, sink }, [record]);
      if (dryRun)
        results.push(
          quarantined.length > 0
            ? { id: entry.id, outcome: 'still invalid', reason: quarantined[0].reason }
            : { id: entry.id, outcome: 'would apply', operations },
        );
      else
        results.push(
          quarantined.length === 0
            ? { id: entry.id, outcome: 'applied' }
            : { id: entry.id, outcome: 'quarantined again', reason: quarantined[0].reason },
        );
    }
    return results;
  }

  private async reread(entries: QuarantinedEvent[]): Promise<Map<string, string | null>> {
    if (entries.length === 0) return new Map();
    if (!this.readRecords) throw new Error('re-driving events with sensitive fields needs a Kafka reader');
    return this.readRecords(entries);
  }
}
