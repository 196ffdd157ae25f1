import { createWriteStream, type WriteStream } from 'fs';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { ReplayRefusedError } from '../../shared/errors';
import { createKafka } from '../../connectors/kafka/kafka-client';
import type { LogRecord } from '../../contracts/positions';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { ident } from '../../connectors/postgres-target/sql';
import { partitionId, type Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { applyBatch } from '../../projections/framework/batch-applier';
import { buildDeferredIndexes } from '../../projections/framework/deferred-indexes';
import { decodeRecord } from '../../projections/framework/event-decoder';
import { chunkByTransaction } from '../../projections/framework/projection-runner';
import { projectionGroup, replayGroupPrefix } from '../../contracts/names';
import { topicsOf, type ProjectionDefinition } from '../../projections/framework/define-projection';
import { resolveProjectionDefinitions, targetPool } from '../projection/projection.service';
import { activeMembers, endOffsets } from '../../connectors/kafka/offsets';
import { createProgress } from '../../shared/progress';
import { audit } from '../../connectors/postgres-target/operator-audit';
import { readToCut, type CutReadResult } from './log-reader';
import { describePosition, parsePosition, type Cut, type Position } from './position';
import {
  backupSchemaOf,
  checkpointsFromJson,
  createFromMigrations,
  inSchema,
  schemaExists,
  shadowSchemaOf,
  summarize,
  swapIn,
  type StateSummary,
} from './schema-ops';


export interface ReplayOptions {
  projection: string;
  to: string;
  operator: string;
  dryRun?: boolean;
  /** Rollback: write every event after the position here, as JSON lines. */
  exportFile?: string;
  kind?: 'replay' | 'rollback';
}

export interface ReplayResult {
  id: number;
  projection: string;
  position: string;
  /** Per "topic#partition": the last offset replayed (absent: none of that partition). */
  offsets: Record<string, string>;
  eventsRead: number;
  eventsApplied: number;
  eventsQuarantined: number;
  dryRun: boolean;
  state: StateSummary | null;
  backupId: number | null;
  exported: number | null;
  durationMs: number;
}

export interface BackupRecord {
  id: number;
  projection: string;
  schemaName: string;
  kind: string;
  operator: string;
  note: string | null;
  takenAt: string;
  restoredAt: string | null;
  present: boolean;
}

/**
 * `tandem replay`: rebuilds a projection from the start of its log up to a position, into a shadow
 * schema, through the projector's own decode/apply path, verifies it, then swaps it in atomically
 * and keeps the replaced state as a backup. The live projector must be stopped (its consumer group
 * must have no member): replay refuses otherwise.
 */
export class ReplayService {
  private readonly pool: Pool;
  private readonly kafka: Kafka;

  constructor(
    private readonly config: TandemConfig,
    private readonly logger: Logger,
  ) {
    this.pool = targetPool(config);
    this.kafka = createKafka(config.kafka, `${config.kafka.clientId}-replay`, logger);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async replay(options: ReplayOptions): Promise<ReplayResult> {
    const started = Date.now();
    const position = parsePosition(options.to); // a malformed position is refused before anything is checked
    await ensureTandemSchema(this.pool);
    const [definition] = await resolveProjectionDefinitions(this.config, options.projection, this.pool);
    const prefix = this.config.kafka.topicPrefix;
    const group = projectionGroup(prefix, definition.name);
    const members = await activeMembers(this.kafka, group);
    if (members > 0) {
      throw new ReplayRefusedError(
        `projection ${definition.name} is running (${members} member(s) in consumer group ${group}): stop tandem project first`,
      );
    }
    const cut = await this.resolve(definition, position);
    const kind = options.kind ?? 'replay';
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO tandem.replays (projection, kind, position, status, operator, export_file) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [
        definition.name,
        kind,
        options.to,
        options.dryRun ? 'dry-run' : 'running',
        options.operator,
        options.exportFile ?? null,
      ],
    );
    const id = Number(rows[0].id);
    const shadow = shadowSchemaOf(definition.schema, id);
    const target = inSchema(definition, shadow);
    let applied = 0;
    let quarantined = 0;
    let exportStream: WriteStream | null = null;
    try {
      if (!options.dryRun) await createFromMigrations(this.pool, definition, shadow);
      if (options.exportFile) exportStream = createWriteStream(options.exportFile, { flags: 'w' });
      const topics = topicsOf(definition, prefix);
      // The whole log as the total (a cut before its end finishes early; transaction markers count too).
      const logSize = (await endOffsets(this.kafka, topics)).reduce(
        (sum, p) => sum + Number(p.end - p.low),
        0,
      );
      const progress = createProgress(`${kind} ${definition.name}`, logSize, this.logger);
      const read = await readToCut({
        kafka: this.kafka,
        groupPrefix: replayGroupPrefix(prefix, definition.name),
        topics,
        cut,
        inside: async (records) => {
          progress.increment(records.length);
          const items = records.map((record) => ({
            record,
            decoded: decodeRecord(definition, prefix, record),
          }));
          for (const chunk of chunkByTransaction(items, this.config.projector.maxBatchEvents)) {
            if (options.dryRun) {
              applied += chunk.filter((item) => item.decoded.kind === 'apply').length;
              quarantined += chunk.filter((item) => item.decoded.kind === 'reject').length;
              continue;
            }
            const result = await applyBatch(this.pool, target, chunk, []);
            applied += result.applied;
            quarantined += result.quarantined.length;
          }
        },
        after: exportStream
          ? (records) => {
              progress.increment(records.length);
              return writeLines(exportStream!, definition.name, records);
            }
          : undefined,
      });
      progress.stop();
      if (exportStream) await closeStream(exportStream);
      this.checkReached(cut, read);
      const offsets = Object.fromEntries(
        [...read.lastIncluded].map(([pid, offset]) => [pid, offset.toString()]),
      );
      let state: StateSummary | null = null;
      let backupId: number | null = null;
      if (!options.dryRun) {
        await buildDeferredIndexes(this.pool, definition, shadow); // the swapped-in schema has every index
        state = await summarize(this.pool, shadow); // every table and view of the rebuilt schema reads
        const checkpoints: Checkpoint[] = [...read.lastIncluded].map(([pid, offset]) => {
          const [topic, partition] = splitPartitionId(pid);
          return { topic, partition, offset, commitLsn: read.commitLsn.get(pid) ?? null };
        });
        backupId = await swapIn(this.pool, {
          definition,
          incoming: shadow,
          checkpoints,
          kind: 'replay',
          operator: options.operator,
          note: `${kind} ${id} to ${describePosition(position)}`,
        });
      }
      await this.pool.query(
        `UPDATE tandem.replays SET status = $2, offsets = $3, events_applied = $4, events_quarantined = $5, state_hash = $6, backup_id = $7,
                events_exported = $8, finished_at = now() WHERE id = $1`,
        [
          id,
          options.dryRun ? 'dry-run' : 'swapped',
          JSON.stringify(offsets),
          applied,
          quarantined,
          state?.hash ?? null,
          backupId,
          options.exportFile ? read.after : null,
        ],
      );
      await audit(this.pool, options.operator, options.dryRun ? `${kind}.dry-run` : kind, definition.name, {
        replayId: id,
        position: options.to,
        offsets,
        backupId,
        exportFile: options.exportFile,
      });
      const result: ReplayResult = {
        id,
        projection: definition.name,
        position: options.to,
        offsets,
        eventsRead: read.included,
        eventsApplied: applied,
        eventsQuarantined: quarantined,
        dryRun: options.dryRun ?? false,
        state,
        backupId,
        exported: options.exportFile ? read.after : null,
        durationMs: Date.now() - started,
      };
      this.logger.info({ ...result, state: undefined }, `${kind} finished`);
      return result;
    } catch (error) {
      exportStream?.destroy();
      await this.pool.query(`DROP SCHEMA IF EXISTS ${ident(shadow)} CASCADE`).catch(() => undefined);
      await this.pool
        .query(
          `UPDATE tandem.replays SET status = 'failed', reason = $2, finished_at = now() WHERE id = $1`,
          [id, (error as Error).message],
        )
        .catch(() => undefined);
      throw error;
    }
  }

  /** `tandem rollback --cutover ID`: replay every projection of the cutover to its offsets and export what came after. */
  async rollback(
    cutoverId: number,
    exportFile: string,
    operator: string,
    dryRun = false,
  ): Promise<ReplayResult[]> {
    await ensureTandemSchema(this.pool);
    const { rows } = await this.pool.query<{ state: string; projections: string[] }>(
      'SELECT state, projections FROM tandem.cutovers WHERE id = $1',
      [cutoverId],
    );
    if (rows.length === 0) throw new ReplayRefusedError(`no cutover ${cutoverId}`);
    if (rows[0].state !== 'committed')
      throw new ReplayRefusedError(
        `cutover ${cutoverId} is ${rows[0].state}; only a committed cutover can be rolled back`,
      );
    const results: ReplayResult[] = [];
    const many = rows[0].projections.length > 1;
    for (const projection of rows[0].projections) {
      results.push(
        await this.replay({
          projection,
          to: `cutover:${cutoverId}`,
          operator,
          dryRun,
          kind: 'rollback',
          exportFile: many ? exportFile.replace(/(\.[^./]+)?$/, `.${projection}$1`) : exportFile,
        }),
      );
    }
    return results;
  }

  async listBackups(projection?: string): Promise<BackupRecord[]> {
    await ensureTandemSchema(this.pool);
    const { rows } = await this.pool.query(
      `SELECT b.*, n.oid IS NOT NULL AS present FROM tandem.backups b LEFT JOIN pg_namespace n ON n.nspname = b.schema_name
        WHERE $1::text IS NULL OR b.projection = $1 ORDER BY b.id`,
      [projection ?? null],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      projection: r.projection,
      schemaName: r.schema_name,
      kind: r.kind,
      operator: r.operator,
      note: r.note,
      takenAt: (r.taken_at as Date).toISOString(),
      restoredAt: r.restored_at ? (r.restored_at as Date).toISOString() : null,
      present: r.present,
    }));
  }

  /** Swaps a backup back in (the replaced live state becomes a new backup), with the checkpoints it was at. */
  /** With dryRun, every check runs (backup present, projector stopped, checkpoints recorded) and nothing is swapped. */
  async restore(
    backupId: number,
    operator: string,
    dryRun = false,
  ): Promise<{ restored: BackupRecord; replacedBy: number | null; dryRun: boolean }> {
    const backup = (await this.listBackups()).find((b) => b.id === backupId);
    if (!backup) throw new ReplayRefusedError(`no backup ${backupId}`);
    if (!backup.present || backup.restoredAt)
      throw new ReplayRefusedError(
        `backup ${backupId} is no longer there (restored ${backup.restoredAt ?? 'or dropped'})`,
      );
    const [definition] = await resolveProjectionDefinitions(this.config, backup.projection, this.pool);
    const group = projectionGroup(this.config.kafka.topicPrefix, definition.name);
    if ((await activeMembers(this.kafka, group)) > 0)
      throw new ReplayRefusedError(`projection ${definition.name} is running: stop tandem project first`);
    const { rows } = await this.pool.query(
      'SELECT s.offsets FROM tandem.backups b JOIN tandem.checkpoint_snapshots s ON s.id = b.checkpoint_snapshot_id WHERE b.id = $1',
      [backupId],
    );
    if (rows.length === 0) throw new ReplayRefusedError(`backup ${backupId} has no recorded checkpoints`);
    if (dryRun) return { restored: backup, replacedBy: null, dryRun: true };
    const replacedBy = await swapIn(this.pool, {
      definition,
      incoming: backup.schemaName,
      checkpoints: checkpointsFromJson(rows[0].offsets),
      kind: 'restore',
      operator,
      note: `restore of backup ${backupId}`,
    });
    await this.pool.query('UPDATE tandem.backups SET restored_at = now() WHERE id = $1', [backupId]);
    await audit(this.pool, operator, 'backup.restore', definition.name, { backupId, replacedBy });
    const restored = (await this.listBackups()).find((b) => b.id === backupId)!;
    return { restored, replacedBy, dryRun: false };
  }

  private async resolve(definition: ProjectionDefinition<unknown>, position: Position): Promise<Cut> {
    if (position.kind === 'lsn' || position.kind === 'time' || position.kind === 'offsets') return position;
    if (position.kind === 'cutover') {
      const { rows } = await this.pool.query<{
        state: string;
        offsets: Record<string, Record<string, string>> | null;
      }>('SELECT state, offsets FROM tandem.cutovers WHERE id = $1', [position.id]);
      if (rows.length === 0) throw new ReplayRefusedError(`--to cutover:${position.id}: no such cutover`);
      if (rows[0].state !== 'committed')
        throw new ReplayRefusedError(
          `--to cutover:${position.id}: the cutover is ${rows[0].state}, not committed`,
        );
      const offsets = rows[0].offsets?.[definition.name];
      if (!offsets)
        throw new ReplayRefusedError(
          `--to cutover:${position.id}: projection ${definition.name} was not part of that cutover`,
        );
      return {
        kind: 'offsets',
        offsets: new Map(Object.entries(offsets).map(([pid, offset]) => [pid, BigInt(offset)])),
      };
    }
    const { rows } = await this.pool.query<{
      projection: string;
      offsets: Array<{ topic: string; partition: number; offset: string; commit_lsn: string | null }>;
    }>('SELECT projection, offsets FROM tandem.checkpoint_snapshots WHERE id = $1', [position.id]);
    if (rows.length === 0)
      throw new ReplayRefusedError(`--to checkpoint:${position.id}: no such checkpoint snapshot`);
    if (rows[0].projection !== definition.name)
      throw new ReplayRefusedError(
        `--to checkpoint:${position.id}: a checkpoint of ${rows[0].projection}, not ${definition.name}`,
      );
    return {
      kind: 'offsets',
      offsets: new Map(rows[0].offsets.map((c) => [partitionId(c.topic, c.partition), BigInt(c.offset)])),
    };
  }

  /** An offset position must be reached exactly: a missing record means the log lost it (retention). */
  private checkReached(cut: Cut, read: CutReadResult): void {
    if (cut.kind !== 'offsets') return;
    const problems: string[] = [];
    for (const [pid, offset] of cut.offsets) {
      if (offset < 0n) continue;
      const reached = read.lastIncluded.get(pid);
      if (reached !== offset)
        problems.push(`${pid}: wanted offset ${offset}, the log gave ${reached ?? 'nothing'}`);
    }
    if (problems.length > 0)
      throw new ReplayRefusedError(`the log does not hold the position: ${problems.join('; ')}`);
  }

  async backupSchemaName(projection: string, id: number): Promise<string> {
    const [definition] = await resolveProjectionDefinitions(this.config, projection, this.pool);
    return backupSchemaOf(definition.schema, id);
  }

  async schemaPresent(schema: string): Promise<boolean> {
    return schemaExists(this.pool, schema);
  }
}

function splitPartitionId(pid: string): [string, number] {
  const at = pid.lastIndexOf('#');
  return [pid.slice(0, at), Number(pid.slice(at + 1))];
}

async function writeLines(stream: WriteStream, projection: string, records: LogRecord[]): Promise<void> {
  for (const record of records) {
    const line = JSON.stringify({
      projection,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset.toString(),
      key: record.key === null ? null : safeParse(record.key),
      value: record.value === null ? null : safeParse(record.value),
    });
    if (!stream.write(`${line}\n`))
      await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}
