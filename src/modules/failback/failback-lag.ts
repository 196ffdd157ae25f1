import type { Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import { tableTopic } from '../../contracts/names';
import { loadCheckpoints, partitionId } from '../../connectors/postgres-target/checkpoint-store';
import type { failbackNames } from '../../contracts/failback-names';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { endOffsets } from '../../connectors/kafka/offsets';
import type { PartitionEnd } from '../../contracts/positions';
import { failbackStore, type FailbackRecord } from '../../connectors/postgres-target/failback-repository';

export interface FailbackLag {
  cutoverId: number;
  state: FailbackRecord['state'];
  /** The target slot: whether failback capture is streaming from it, and the WAL it has not confirmed. */
  slot: { name: string; active: boolean; behindBytes: number | null; confirmedLsn: string | null };
  projections: Array<{
    projection: string;
    /** Records in the failback topics not yet applied to the legacy database. */
    behindRecords: number;
    /** The highest target commit LSN applied to the legacy database (its replication origin's progress). */
    appliedLsn: string | null;
    quarantined: number;
  }>;
  /** Failback capture is streaming and every record in the failback topics is applied to legacy. */
  caughtUp: boolean;
}

/** The topics failback reads for one projection. */
export function failbackTopics(names: ReturnType<typeof failbackNames>, definition: ProjectionDefinition<unknown>): string[] {
  return definition.invert!.tables.map((table) => tableTopic(names.topicPrefix, definition.schema, table));
}

export async function readSlotLag(target: Pool, slot: string) {
  const { rows } = await target.query<{ active: boolean; behind: string | null; confirmed: string | null }>(
    `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS behind, confirmed_flush_lsn::text AS confirmed
       FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
    [slot],
  );
  const row = rows[0];
  return { name: slot, active: row?.active ?? false, behindBytes: row?.behind == null ? null : Number(row.behind), confirmedLsn: row?.confirmed ?? null };
}

/**
 * Records of the failback topics below `ends` that the legacy checkpoints do not cover. An end
 * offset follows a transaction marker, so a checkpoint at end − 2 covers every record.
 */
export async function behindRecords(legacy: Pool, checkpointName: string, ends: PartitionEnd[]): Promise<number> {
  const checkpoints = await loadCheckpoints(legacy, checkpointName);
  let behind = 0;
  for (const { topic, partition, low, end } of ends) {
    const applied = checkpoints.get(partitionId(topic, partition))?.offset ?? low - 1n;
    if (end - 2n > applied) behind += Number(end - 2n - applied);
  }
  return behind;
}

/** One reading of a failback's lag (tandem failback status, tandem status, the rollback gate). */
export async function readFailbackLag(
  record: FailbackRecord,
  definitions: ProjectionDefinition<unknown>[],
  names: ReturnType<typeof failbackNames>,
  pools: { target: Pool; legacy: Pool },
  kafka: Kafka,
): Promise<FailbackLag> {
  const slot = await readSlotLag(pools.target, record.slot);
  const projections: FailbackLag['projections'] = [];
  for (const definition of definitions) {
    const checkpointName = names.checkpointName(definition.name);
    const ends = await existingEnds(kafka, failbackTopics(names, definition));
    const { rows } = await pools.legacy.query<{ lsn: string | null; quarantined: string }>(
      `SELECT (SELECT pg_replication_origin_progress($1, false)::text
                 WHERE EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)) AS lsn,
              (SELECT count(*) FROM tandem.quarantine WHERE projection = $2 AND status = 'quarantined')::text AS quarantined`,
      [names.origin(definition.name), checkpointName],
    );
    projections.push({
      projection: definition.name,
      behindRecords: await behindRecords(pools.legacy, checkpointName, ends),
      appliedLsn: rows[0].lsn,
      quarantined: Number(rows[0].quarantined),
    });
  }
  const caughtUp = slot.active && projections.every((p) => p.behindRecords === 0);
  return { cutoverId: record.cutoverId, state: record.state, slot, projections, caughtUp };
}

async function existingEnds(kafka: Kafka, topics: string[]): Promise<PartitionEnd[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    return await endOffsets(kafka, topics.filter((topic) => existing.has(topic)));
  } finally {
    await admin.disconnect();
  }
}

/**
 * The failback section of `tandem status`, /api/status and /metrics: the lag of the latest
 * cutover's failback while it is active, else null. Reads through the process's pools.
 */
export class FailbackLagReader {
  constructor(
    private readonly pools: { target: Pool; legacy: Pool },
    private readonly kafka: Kafka,
    private readonly names: ReturnType<typeof failbackNames>,
    /** The projections whole (a mirror's inverse needs its resolved tables). */
    private readonly definitions: (target: Pool) => Promise<ProjectionDefinition<unknown>[]>,
  ) {}

  async read(): Promise<FailbackLag | null> {
    const { target } = this.pools;
    const { rows } = await target.query<{ present: boolean }>(`SELECT to_regclass('tandem.failbacks') IS NOT NULL AS present`);
    if (!rows[0].present) return null;
    const record = await failbackStore.latest(target);
    if (!record || record.state !== 'active') return null;
    const definitions = (await this.definitions(target)).filter((definition) => record.projections.includes(definition.name));
    return readFailbackLag(record, definitions, this.names, this.pools, this.kafka);
  }
}
