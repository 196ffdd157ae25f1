import type { Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import { ConfigError } from '../../shared/errors';
import { TandemService } from '../core/tandem-resources';
import { ProjectionRunner, type ProjectionStatus } from '../../projections/pipeline/projection-runner';
import { LiveSink, type AppliedBatch } from '../../projections/pipeline/live-sink';
import { PlanSink } from '../../projections/pipeline/plan-sink';
import type { RunnerSink } from '../../projections/pipeline/sink';
import type { BatchItem } from '../../projections/framework/batch-applier';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { RECIPES } from '../../projections/recipes';
import { loadModuleProjection } from '../../projections/user-modules/load-projection-module';
import { mirrorOutline, resolveMirrorProjection } from '../../projections/mirror/mirror-projection';
import { isMirrorEntry, isModuleEntry, type ProjectionEntry } from '../config/projection-entry.schema';

export interface ProjectOptions {
  /** Only this projection (default: every projection in the config). */
  projection?: string;
  /** Plan each batch and hand it here instead of writing. */
  plan?: (definition: ProjectionDefinition<unknown>, items: BatchItem[]) => void;
  /** After each applied batch (`tandem project --metrics-port`). */
  onBatchApplied?: (batch: AppliedBatch) => void;
}

/**
 * The configured projections' definitions, as far as the configuration alone tells: recipes whole, a
 * mirror as an outline (name, schema, source tables) whose tables are not resolved yet; whatever
 * writes, reconciles or replays uses resolveProjectionDefinitions. An unknown name stops here.
 */
export function projectionDefinitions(config: TandemConfig, only?: string): ProjectionDefinition<unknown>[] {
  return select(config.projections.map((entry, index) => outlineOf(entry, index)), only);
}

/** The configured projections' definitions, each whole: a mirror's tables resolved (mirror-projection.ts). */
export async function resolveProjectionDefinitions(
  config: TandemConfig,
  only: string | undefined,
  /** The process's target pool (a mirror's tables are read, and recorded, there). */
  target: Pool,
  /** A dry run: a mirror records nothing in the target. */
  options: { dryRun?: boolean } = {},
): Promise<ProjectionDefinition<unknown>[]> {
  const selected = new Set(projectionDefinitions(config, only).map((definition) => definition.name));
  const definitions: ProjectionDefinition<unknown>[] = [];
  for (const [index, entry] of config.projections.entries()) {
    const outline = outlineOf(entry, index);
    if (!selected.has(outline.name)) continue;
    if (!isMirrorEntry(entry)) {
      definitions.push(outline);
      continue;
    }
    definitions.push(
      await resolveMirrorProjection(entry, `projections.${index}`, {
        sourceUrl: config.source.url,
        targetUrl: config.target!.url,
        target,
        record: !options.dryRun,
      }),
    );
  }
  return definitions;
}

function outlineOf(entry: ProjectionEntry, index: number): ProjectionDefinition<unknown> {
  if (isMirrorEntry(entry)) return mirrorOutline(entry, `projections.${index}`);
  if (isModuleEntry(entry)) return loadModuleProjection(entry);
  const factory = RECIPES[entry.recipe];
  if (!factory) throw new ConfigError(`projections.${index}.recipe: no recipe named "${entry.recipe}"`);
  return factory.projection({ sourceSchema: entry.sourceSchema, env: process.env });
}

function select(definitions: ProjectionDefinition<unknown>[], only?: string): ProjectionDefinition<unknown>[] {
  if (!only) return definitions;
  const selected = definitions.filter((definition) => definition.name === only);
  if (selected.length === 0) {
    throw new ConfigError(`--projection ${only}: not in the configuration (configured: ${definitions.map((d) => d.name).join(', ') || 'none'})`);
  }
  return selected;
}

/** Runs projectors (one consumer group per projection) until stop(). */
export class ProjectionService extends TandemService {
  private runners: ProjectionRunner[] = [];
  /** The runners started and not stopped yet (stop() may come from the command and again at shutdown). */
  private active: ProjectionRunner[] = [];

  status(): ProjectionStatus[] {
    return this.runners.map((runner) => ({ ...runner.statusValue, lag: { ...runner.statusValue.lag } }));
  }

  /** Every partition each projector has read is read to its end. */
  caughtUp(): boolean {
    return this.runners.every((runner) => runner.caughtUp());
  }

  async start(options: ProjectOptions = {}): Promise<void> {
    if (projectionDefinitions(this.config, options.projection).length === 0) throw new ConfigError('projections: list at least one projection to run');
    const pool = this.resources.target;
    const definitions = await resolveProjectionDefinitions(this.config, options.projection, pool, { dryRun: options.plan !== undefined });
    const kafka = this.resources.kafka;
    const topicPrefix = this.config.kafka.topicPrefix;
    for (const definition of definitions) {
      const plan = options.plan;
      const sink: RunnerSink = plan
        ? new PlanSink({ definition, plan: (items) => plan(definition, items), reading: { pool, topicPrefix } })
        : new LiveSink({
            definition,
            topicPrefix,
            orderingWaitMs: this.config.projector.orderingWaitMs,
            kafka,
            pool,
            logger: this.logger,
            onBatchApplied: options.onBatchApplied,
          });
      const runner = new ProjectionRunner({
        definition,
        topicPrefix,
        partitions: this.config.kafka.partitions,
        replicationFactor: this.config.kafka.replicationFactor,
        maxBatchEvents: this.config.projector.maxBatchEvents,
        kafka,
        sink,
      });
      await runner.prepare();
      this.runners.push(runner);
    }
    for (const runner of this.runners) {
      this.active.push(runner);
      await runner.start();
    }
    this.logger.info({ projections: definitions.map((d) => d.name) }, 'projectors running');
  }

  /**
   * Stops every projector (each finishes its batch in progress), then closes the connections the
   * service opened itself (none in an application context).
   */
  async stop(): Promise<void> {
    for (const runner of this.active.splice(0)) await runner.stop();
    await this.closeOwnResources();
  }

  /** At the application's shutdown, before the shared pools close. */
  close(): Promise<void> {
    return this.stop();
  }
}
