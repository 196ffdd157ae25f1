import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import { loadCheckpoints } from '../../connectors/postgres-target/checkpoint-store';
import { projectionGroup } from '../../contracts/names';
import { activeMembers, endOffsets } from '../../connectors/kafka/offsets';
import { topicsOf, type ProjectionDefinition } from '../../projections/framework/define-projection';
import { parseLsn } from '../../shared/lsn';
import { lagging } from './drain-gate';

/**
 * Where a projection stands against a source position:
 * - `applied`: every change committed at or before the LSN is in the target;
 * - `pending`: some are still on their way (capture or the projector is running and behind);
 * - `stalled`: some are missing and none will arrive (capture or the projector is not running).
 */
export type AppliedState = 'applied' | 'pending' | 'stalled';

export interface PositionProbe {
  /** The source's current WAL position: every change visible to a read made before this call is at or below it. */
  mark(): Promise<string>;
  state(lsn: string): Promise<{ state: AppliedState; detail: string }>;
}

/**
 * The position of one projection, measured as the cutover's drained gate measures it: capture's slot
 * has confirmed the LSN (all changes up to it are in Kafka), then the projection's checkpoints cover
 * the end offsets its topics have at that moment.
 */
export class ProjectionPositionProbe implements PositionProbe {
  constructor(
    private readonly config: TandemConfig,
    private readonly definition: ProjectionDefinition<unknown>,
    private readonly source: Pool,
    private readonly target: Pool,
    private readonly kafka: () => Kafka,
  ) {}

  async mark(): Promise<string> {
    const { rows } = await this.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return rows[0].lsn;
  }

  async state(lsn: string): Promise<{ state: AppliedState; detail: string }> {
    const slot = this.config.source.slot;
    const { rows } = await this.source.query<{ lsn: string | null; active: boolean }>(
      'SELECT confirmed_flush_lsn::text AS lsn, active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const confirmed = rows[0]?.lsn ?? null;
    if (rows.length > 0 && (confirmed === null || parseLsn(confirmed) < parseLsn(lsn))) {
      const detail = `capture's slot ${slot} has confirmed ${confirmed ?? 'nothing'}, below ${lsn}`;
      return { state: rows[0].active ? 'pending' : 'stalled', detail: `${detail}${rows[0].active ? '' : ' (capture is not running)'}` };
    }
    const kafka = this.kafka();
    const admin = kafka.admin();
    await admin.connect();
    let existing: string[];
    try {
      const topics = new Set(await admin.listTopics());
      existing = topicsOf(this.definition, this.config.kafka.topicPrefix).filter((topic) => topics.has(topic));
    } finally {
      await admin.disconnect();
    }
    const behind = lagging(await endOffsets(kafka, existing), await loadCheckpoints(this.target, this.definition.name));
    if (behind.length === 0) return { state: 'applied', detail: `${this.definition.name} applied everything up to ${lsn}` };
    const group = projectionGroup(this.config.kafka.topicPrefix, this.definition.name);
    const members = await activeMembers(kafka, group);
    const detail = `${this.definition.name} is ${behind.length} partition(s) behind ${lsn}`;
    return members > 0
      ? { state: 'pending', detail }
      : { state: 'stalled', detail: `${detail} (no projector in consumer group ${group})` };
  }
}

/**
 * A position known to be applied: the cutover verifies after freezing the legacy writes and draining
 * every projection, so nothing is in flight.
 */
export class DrainedPositionProbe implements PositionProbe {
  constructor(private readonly lsn: string) {}

  mark(): Promise<string> {
    return Promise.resolve(this.lsn);
  }

  state(): Promise<{ state: AppliedState; detail: string }> {
    return Promise.resolve({ state: 'applied', detail: `drained to the freeze position ${this.lsn}` });
  }
}

/**
 * Where there is no position to read (failback, target → legacy: its applier's progress is not
 * recorded against a target LSN yet), the clock stands in: pending for `waitMs` after the mark.
 */
export class ClockProbe implements PositionProbe {
  constructor(private readonly waitMs: number) {}

  mark(): Promise<string> {
    return Promise.resolve(String(Date.now()));
  }

  state(mark: string): Promise<{ state: AppliedState; detail: string }> {
    const waited = Date.now() - Number(mark);
    return Promise.resolve(
      waited >= this.waitMs
        ? { state: 'applied', detail: `read again after ${this.waitMs} ms (no position to read in this direction)` }
        : { state: 'pending', detail: `waiting ${this.waitMs} ms` },
    );
  }
}
