import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { ReplayRefusedError } from '../../shared/errors';
import { TandemService } from '../core/tandem-resources';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { ident } from '../../connectors/postgres-target/sql';
import type { Checkpoint } from '../../connectors/postgres-target/checkpoint-store';
import { buildDeferredIndexes } from '../../projections/framework/deferred-indexes';
import { projectionGroup } from '../../contracts/names';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { PlanSink } from '../../projections/pipeline/plan-sink';
import { shadowSink } from '../../projections/pipeline/shadow-sink';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import { activeMembers } from '../../connectors/kafka/offsets';
import { audit } from '../../connectors/postgres-target/operator-audit';
import type { CutReadResult } from './log-reader';
import { describePosition, parsePosition } from './position';
import { backupSchemaOf, createFromMigrations, schemaExists, shadowSchemaOf, summarize, swapIn, type StateSummary } from './schema-ops';
import { checkReached, resolveCut } from './cut-resolver';
import { readCutover } from './cutover-reads';
import { ExportFile } from './export-file';
import { rebuildToCut } from './rebuild';
import { failReplay, finishReplay, insertReplay } from './replays.repository';
import { backupCheckpoints, listBackups, markRestored, type BackupRecord } from './backups.repository';

export type { BackupRecord } from './backups.repository';

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

/**
 * `tandem replay`: rebuilds a projection from the start of its log up to a position, into a shadow
 * schema, through the projection pipeline (shadow sink; a dry run plans only), verifies it, then
 * swaps it in atomically and keeps the replaced state as a backup. The live projector must be
 * stopped (its consumer group must have no member): replay refuses otherwise.
 */
export class ReplayService extends TandemService {
  private get pool(): Pool {
    return this.resources.target;
  }

  private get kafka(): Kafka {
    return this.resources.kafka;
  }

  async close(): Promise<void> {
    await this.closeOwnResources();
  }

  async replay(options: ReplayOptions): Promise<ReplayResult> {
    const started = Date.now();
    const position = parsePosition(options.to); // a malformed position is refused before anything is checked
    await ensureTandemSchema(this.pool);
    const [definition] = await resolveProjectionDefinitions(this.config, options.projection, this.pool);
    await this.refuseWhileRunning(definition);
    const cut = await resolveCut(this.pool, definition, position);
    const kind = options.kind ?? 'replay';
    const dryRun = options.dryRun ?? false;
    const id = await insertReplay(this.pool, {
      projection: definition.name,
      kind,
      position: options.to,
      dryRun,
      operator: options.operator,
      exportFile: options.exportFile ?? null,
    });
    const shadow = shadowSchemaOf(definition.schema, id);
    let exportFile: ExportFile | null = null;
    try {
      if (!dryRun) await createFromMigrations(this.pool, definition, shadow);
      if (options.exportFile) exportFile = new ExportFile(options.exportFile);
      const rebuilt = await rebuildToCut({
        kafka: this.kafka,
        logger: this.logger,
        definition,
        topicPrefix: this.config.kafka.topicPrefix,
        maxBatchEvents: this.config.projector.maxBatchEvents,
        cut,
        sink: dryRun ? new PlanSink({ definition }) : shadowSink(this.pool, definition, shadow),
        exportFile,
        kind,
      });
      checkReached(cut, rebuilt.read);
      const offsets = Object.fromEntries([...rebuilt.read.lastIncluded].map(([pid, offset]) => [pid, offset.toString()]));
      const { state, backupId } = dryRun
        ? { state: null, backupId: null }
        : await this.swapShadowIn(definition, shadow, rebuilt.read, options.operator, `${kind} ${id} to ${describePosition(position)}`);
      const exported = options.exportFile ? rebuilt.read.after : null;
      await finishReplay(this.pool, id, {
        dryRun,
        offsets,
        applied: rebuilt.applied,
        quarantined: rebuilt.quarantined,
        stateHash: state?.hash ?? null,
        backupId,
        exported,
      });
      await audit(this.pool, options.operator, dryRun ? `${kind}.dry-run` : kind, definition.name, {
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
        eventsRead: rebuilt.read.included,
        eventsApplied: rebuilt.applied,
        eventsQuarantined: rebuilt.quarantined,
        dryRun,
        state,
        backupId,
        exported,
        durationMs: Date.now() - started,
      };
      this.logger.info({ ...result, state: undefined }, `${kind} finished`);
      return result;
    } catch (error) {
      exportFile?.destroy();
      await this.pool.query(`DROP SCHEMA IF EXISTS ${ident(shadow)} CASCADE`).catch(() => undefined);
      await failReplay(this.pool, id, (error as Error).message).catch(() => undefined);
      throw error;
    }
  }

  /** The rebuilt shadow schema with every index, summarized, swapped in with the checkpoints of the cut. */
  private async swapShadowIn(
    definition: ProjectionDefinition<unknown>,
    shadow: string,
    read: CutReadResult,
    operator: string,
    note: string,
  ): Promise<{ state: StateSummary; backupId: number | null }> {
    await buildDeferredIndexes(this.pool, definition, shadow); // the swapped-in schema has every index
    const state = await summarize(this.pool, shadow); // every table and view of the rebuilt schema reads
    const checkpoints: Checkpoint[] = [...read.lastIncluded].map(([pid, offset]) => {
      const at = pid.lastIndexOf('#');
      return { topic: pid.slice(0, at), partition: Number(pid.slice(at + 1)), offset, commitLsn: read.commitLsn.get(pid) ?? null };
    });
    const backupId = await swapIn(this.pool, { definition, incoming: shadow, checkpoints, kind: 'replay', operator, note });
    return { state, backupId };
  }

  private async refuseWhileRunning(definition: ProjectionDefinition<unknown>): Promise<void> {
    const group = projectionGroup(this.config.kafka.topicPrefix, definition.name);
    const members = await activeMembers(this.kafka, group);
    if (members > 0)
      throw new ReplayRefusedError(
        `projection ${definition.name} is running (${members} member(s) in consumer group ${group}): stop tandem project first`,
      );
  }

  /** `tandem rollback --cutover ID`: replay every projection of the cutover to its offsets and export what came after. */
  async rollback(cutoverId: number, exportFile: string, operator: string, dryRun = false): Promise<ReplayResult[]> {
    await ensureTandemSchema(this.pool);
    const cutover = await readCutover(this.pool, cutoverId);
    if (!cutover) throw new ReplayRefusedError(`no cutover ${cutoverId}`);
    if (cutover.state !== 'committed')
      throw new ReplayRefusedError(`cutover ${cutoverId} is ${cutover.state}; only a committed cutover can be rolled back`);
    const results: ReplayResult[] = [];
    const many = cutover.projections.length > 1;
    for (const projection of cutover.projections) {
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
    return listBackups(this.pool, projection);
  }

  /**
   * Swaps a backup back in (the replaced live state becomes a new backup), with the checkpoints it was at.
   * With dryRun, every check runs (backup present, projector stopped, checkpoints recorded) and nothing is swapped.
   */
  async restore(
    backupId: number,
    operator: string,
    dryRun = false,
  ): Promise<{ restored: BackupRecord; replacedBy: number | null; dryRun: boolean }> {
    const backup = (await this.listBackups()).find((b) => b.id === backupId);
    if (!backup) throw new ReplayRefusedError(`no backup ${backupId}`);
    if (!backup.present || backup.restoredAt)
      throw new ReplayRefusedError(`backup ${backupId} is no longer there (restored ${backup.restoredAt ?? 'or dropped'})`);
    const [definition] = await resolveProjectionDefinitions(this.config, backup.projection, this.pool);
    await this.refuseWhileRunning(definition);
    const checkpoints = await backupCheckpoints(this.pool, backupId);
    if (!checkpoints) throw new ReplayRefusedError(`backup ${backupId} has no recorded checkpoints`);
    if (dryRun) return { restored: backup, replacedBy: null, dryRun: true };
    const replacedBy = await swapIn(this.pool, {
      definition,
      incoming: backup.schemaName,
      checkpoints,
      kind: 'restore',
      operator,
      note: `restore of backup ${backupId}`,
    });
    await markRestored(this.pool, backupId);
    await audit(this.pool, operator, 'backup.restore', definition.name, { backupId, replacedBy });
    const restored = (await this.listBackups()).find((b) => b.id === backupId)!;
    return { restored, replacedBy, dryRun: false };
  }

  async backupSchemaName(projection: string, id: number): Promise<string> {
    const [definition] = await resolveProjectionDefinitions(this.config, projection, this.pool);
    return backupSchemaOf(definition.schema, id);
  }

  async schemaPresent(schema: string): Promise<boolean> {
    return schemaExists(this.pool, schema);
  }
}
