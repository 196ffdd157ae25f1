import type { Pool } from 'pg';
import { listQuarantine, markRedriven, type QuarantinedEvent } from '../../connectors/postgres-target/quarantine-store';
import type { Logger } from '../../shared/logger';
import { applyBatch, type BatchItem } from './batch-applier';
import type { ProjectionDefinition } from './define-projection';
import { decodeRecord } from './event-decoder';

/**
 * Rejections that mean "its parent is not there yet": a foreign key violation, or an update of a row
 * whose insert is missing. Under capture's per-table partitions a child routinely overtakes its
 * parent, so these are retried as later events are applied (the other reasons wait for a fix).
 */
export function waitsForParent(reason: string): boolean {
  return /\[SQLSTATE 23503\]/.test(reason) || reason.includes('for a row the table does not hold');
}

/** Said of an event whose parent has not come although the projector caught up. */
export const PARENT_STILL_MISSING =
  'its parent is still missing after the projector caught up (the parent is itself quarantined, or never came): ';

/** Re-reads a quarantined event as the record it was in the log. */
export function quarantinedItem(definition: ProjectionDefinition<unknown>, topicPrefix: string, entry: QuarantinedEvent): BatchItem {
  const record = {
    topic: entry.topic,
    partition: entry.partition,
    offset: entry.offset,
    key: entry.sourceKey,
    value: typeof entry.event === 'string' ? entry.event : JSON.stringify(entry.event),
  };
  return { record, decoded: decodeRecord(definition, topicPrefix, record) };
}

/** Retries at most this often while the projector catches up (each round is one target transaction). */
const RETRY_INTERVAL_MS = 2000;
const ROUND_SIZE = 2000;

/**
 * Applies again, in log order and in one transaction per round, the quarantined events of a
 * projection that were waiting for a parent: after batches that applied events (at most every 2 s)
 * and whenever the projector has caught up. What applies is marked re-driven; what still fails stays
 * quarantined, and once the projector has caught up its reason says the parent is missing.
 */
export class ParentRetry {
  private lastRoundAt = 0;
  private running: Promise<void> | null = null;
  private waiting = true; // unknown at start: look once

  constructor(
    private readonly pool: Pool,
    private readonly definition: ProjectionDefinition<unknown>,
    private readonly topicPrefix: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Called after each applied batch. Once the projector has caught up, a round follows every batch
   * that applied an event (it may be the parent) or quarantined one for its parent (whose reason then
   * says so at once); while it catches up, at most one round every 2 s.
   */
  async afterBatch(applied: number, quarantinedForParent: number, caughtUp: boolean): Promise<void> {
    if (quarantinedForParent > 0) this.waiting = true;
    if (!this.waiting || this.running) return;
    if (applied === 0 && !(caughtUp && quarantinedForParent > 0)) return;
    if (!caughtUp && Date.now() - this.lastRoundAt < RETRY_INTERVAL_MS) return;
    this.running = this.round(caughtUp).finally(() => (this.running = null));
    await this.running;
  }

  private async round(caughtUp: boolean): Promise<void> {
    this.lastRoundAt = Date.now();
    const entries = (await listQuarantine(this.pool, this.definition.name))
      .filter((entry) => waitsForParent(entry.reason))
      .sort((a, b) => compareLogOrder(a, b))
      .slice(0, ROUND_SIZE);
    if (entries.length === 0) {
      this.waiting = false;
      return;
    }
    const items = entries.map((entry) => quarantinedItem(this.definition, this.topicPrefix, entry));
    const result = await applyBatch(this.pool, this.definition, items, [], async (client, quarantined) => {
      const failed = new Set(quarantined.map((q) => `${q.record.topic}#${q.record.partition}#${q.record.offset}`));
      for (const entry of entries)
        if (!failed.has(`${entry.topic}#${entry.partition}#${entry.offset}`)) await markRedriven(client, entry.id);
      if (caughtUp && failed.size > 0)
        await client.query(
          `UPDATE tandem.quarantine SET reason = $2 || reason
            WHERE projection = $1 AND status = 'quarantined' AND id = ANY($3::bigint[]) AND left(reason, length($2)) <> $2`,
          [this.definition.name, PARENT_STILL_MISSING, entries.map((entry) => entry.id)],
        );
    });
    const stillWaiting = result.quarantined.length;
    this.waiting = stillWaiting > 0;
    if (entries.length > stillWaiting)
      this.logger.info(
        { projection: this.definition.name, applied: entries.length - stillWaiting, stillWaiting },
        'applied quarantined events whose parent has arrived',
      );
  }
}

/** Source transactions in commit order; within one partition, offsets. */
function compareLogOrder(a: QuarantinedEvent, b: QuarantinedEvent): number {
  const lsn = (a.commitLsn ?? 0n) - (b.commitLsn ?? 0n);
  if (lsn !== 0n) return lsn < 0n ? -1 : 1;
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;
}
