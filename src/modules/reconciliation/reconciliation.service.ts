import type { Pool } from 'pg';
import type { TandemConfig } from '../config/config.schema';
import type { Logger } from '../../shared/logger';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { listQuarantine, type QuarantinedEvent } from '../../connectors/postgres-target/quarantine-store';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import type { TableComparison } from '../../projections/framework/define-reconciliation';
import { resolveProjectionDefinitions } from '../projection/projection.service';
import { TandemResources, withResources } from '../core/tandem-resources';
import { ReconciliationRepository } from './reconciliation-repository';
import { compareByBuckets, type Difference } from './bucket-comparison';
import { SqlComparisonReader, sharedRowHash } from './sql-reader';
import { settleDifferences } from './settle-differences';
import { ClockProbe, DrainedPositionProbe, ProjectionPositionProbe, type PositionProbe } from '../projection/applied-position';
import type { ReconciliationReport, TableReport } from './reconciliation-report';
import { quarantineKind, verdictOf } from './verdict';
import { createProgress } from '../../shared/progress';
import type { ColumnPolicy } from '../../connectors/postgres-source/column-policy';
import { columnPolicyOf } from '../config/column-policy';
import { applyColumnRules } from './column-rules';

export interface ReconcileOptions {
  projection?: string;
  /** Largest accepted share of missing + extra + mismatched rows (default 0.1 %, the seeds' rollback trigger). */
  threshold?: number;
  /** Quarantined rows do not count against the threshold (recorded in the report). */
  acceptQuarantined?: boolean;
  /** Differences listed per table in the report (default 20); the counts always cover all of them. */
  sample?: number;
  /**
   * The LSN the caller has drained every projection to with the legacy writes frozen (a cutover):
   * nothing is in flight, so differences are settled without asking capture or Kafka.
   */
  drainedTo?: string;
  /**
   * forward (default): legacy → target. failback: target → legacy after a cutover, with the same
   * specs: a row the target holds and legacy lacks is missing, the position is the target's LSN,
   * and the counts read "source" for the target.
   */
  direction?: 'forward' | 'failback';
}

const DEFAULT_SAMPLE = 20;
/** How often a difference's position is checked while the projection catches up. */
const SETTLE_POLL_MS = 200;
/** Beyond capture's heartbeat (an idle source's position is confirmed once per heartbeat), how long to wait for a projection that is behind. */
const SETTLE_SLACK_MS = 5000;
/** Failback (target → legacy) has no position reconciliation can read yet: differences are read again after this wait. */
const FAILBACK_SETTLE_WAIT_MS = 3000;

/**
 * `tandem reconcile`: compares each projection's legacy rows with its target rows inside the two
 * databases, as of one source LSN, re-checks differences that may be writes in flight, and reports
 * quarantined events as quarantined, not missing.
 */
export class ReconciliationService {
  /** Capture's excluded and masked columns (source.columns), which reconcile honours. */
  private readonly columns: ColumnPolicy;

  constructor(
    private readonly config: TandemConfig,
    private readonly logger: Logger,
    /** The process's connections (the application context); without them, run() opens and closes its own. */
    private readonly resources?: TandemResources,
  ) {
    this.columns = columnPolicyOf(config);
  }

  async run(options: ReconcileOptions = {}): Promise<ReconciliationReport[]> {
    return withResources(this.resources, this.config, this.logger, (resources) => this.runWith(resources, options));
  }

  private async runWith(resources: TandemResources, options: ReconcileOptions): Promise<ReconciliationReport[]> {
    const target = resources.target;
    const definitions = (await resolveProjectionDefinitions(this.config, options.projection, target)).filter(
      (d) => d.reconcile && d.reconcile.length > 0,
    );
    const source = resources.source;
    const kafkaOnce = () => resources.kafka;
    await ensureTandemSchema(target);
    const reports: ReconciliationReport[] = [];
    for (const definition of definitions)
      reports.push(
        await this.reconcile(
          definition,
          source,
          target,
          options.threshold ?? 0.001,
          options.acceptQuarantined ?? false,
          options.sample ?? DEFAULT_SAMPLE,
          options.direction ?? 'forward',
          options.drainedTo !== undefined
            ? new DrainedPositionProbe(options.drainedTo)
            : options.direction === 'failback'
              ? new ClockProbe(FAILBACK_SETTLE_WAIT_MS)
              : new ProjectionPositionProbe(this.config, definition, source, target, kafkaOnce),
        ),
      );
    return reports;
  }

  private async reconcile(
    definition: ProjectionDefinition<unknown>,
    source: Pool,
    target: Pool,
    threshold: number,
    acceptQuarantined: boolean,
    sample: number,
    direction: 'forward' | 'failback',
    probe: PositionProbe,
  ): Promise<ReconciliationReport> {
    const startedAt = new Date().toISOString();
    const origin = direction === 'failback' ? target : source;
    const { rows } = await origin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    // events still waiting for a row they refer to count as quarantined too; failback's quarantine
    // (legacy database) names target keys, which explain no legacy row
    const quarantined =
      direction === 'failback'
        ? []
        : [...(await listQuarantine(target, definition.name)), ...(await listQuarantine(target, definition.name, 'waiting'))];
    const tables: TableReport[] = [];
    const progress = createProgress(
      `reconcile ${definition.name}`,
      definition.reconcile!.length,
      this.logger,
      undefined,
      'tables',
    );
    for (const comparison of definition.reconcile!) {
      tables.push(await this.compareTable(definition, comparison, source, target, quarantined, sample, direction, probe));
      progress.increment(1);
    }
    progress.stop();
    const outcome = verdictOf(tables, threshold, acceptQuarantined);
    const { mismatchRatio, verdict } = outcome;
    const report: ReconciliationReport = {
      id: null,
      projection: definition.name,
      direction,
      startedAt,
      finishedAt: new Date().toISOString(),
      sourceLsn: rows[0].lsn,
      threshold,
      ...outcome,
      tables,
    };
    report.id = await new ReconciliationRepository(target).record(report);
    this.logger.info(
      { projection: definition.name, verdict, mismatchRatio, id: report.id },
      'reconciliation finished',
    );
    return report;
  }

  private async compareTable(
    definition: ProjectionDefinition<unknown>,
    comparison: TableComparison,
    sourcePool: Pool,
    targetPool: Pool,
    quarantined: QuarantinedEvent[],
    sample: number,
    direction: 'forward' | 'failback',
    probe: PositionProbe,
  ): Promise<TableReport> {
    const comparedFrom = Date.now();
    const placeholders = {
      target: definition.schema,
      source: comparison.sourceTable?.split('.')[0] ?? 'public',
    };
    const hash = await sharedRowHash(sourcePool, targetPool);
    const ruled = applyColumnRules(comparison, this.columnRulesOf(comparison, placeholders.source));
    const legacy = new SqlComparisonReader(sourcePool, ruled.source, placeholders, hash, ruled.sourceParams);
    const projected = new SqlComparisonReader(targetPool, ruled.target, placeholders, hash);
    const [source, target] = direction === 'failback' ? [projected, legacy] : [legacy, projected];
    const result = await compareByBuckets(source, target);
    const compareMs = Date.now() - comparedFrom;

    const quarantineReasons = new Map<string, string>();
    for (const entry of quarantined) {
      if (comparison.sourceTable && !entry.topic.endsWith(`.${comparison.sourceTable}`)) continue;
      const key =
        entry.sourceKey && comparison.quarantineKey
          ? comparison.quarantineKey(JSON.parse(entry.sourceKey))
          : null;
      if (key !== null) quarantineReasons.set(key, entry.reason);
    }
    const explained = result.differences.filter((d) => d.kind === 'missing' && quarantineReasons.has(d.key));
    const settled = await settleDifferences(
      result.differences.filter((d) => !(d.kind === 'missing' && quarantineReasons.has(d.key))),
      source,
      target,
      probe,
      { budgetMs: this.config.source.heartbeatIntervalMs + SETTLE_SLACK_MS, pollMs: SETTLE_POLL_MS },
    );
    const { open, rounds: reverifyRounds } = settled;
    if (open.length > 0)
      this.logger.info(
        { projection: definition.name, table: comparison.name, differences: open.length, position: settled.state },
        `differences settled: ${settled.detail}`,
      );
    const reverifyMs = Date.now() - comparedFrom - compareMs;
    const count = (kind: Difference['kind']) => open.filter((d) => d.kind === kind).length;
    const resolved = result.differences.length - explained.length - open.length;
    return {
      table: comparison.name,
      sourceCount: result.sourceCount,
      targetCount: result.targetCount,
      matched: result.matched + Math.max(resolved, 0),
      missing: count('missing'),
      extra: count('extra'),
      mismatched: count('mismatched'),
      quarantined: explained.length,
      quarantinedByReason: countBy(explained.map((d) => quarantineKind(quarantineReasons.get(d.key)!))),
      sample: open.slice(0, sample),
      quarantinedSample: explained
        .slice(0, sample)
        .map((d) => ({ key: d.key, reason: quarantineReasons.get(d.key)! })),
      bucketsCompared: result.bucketsCompared,
      scans: result.scans,
      rowsFetched: result.rowsFetched,
      reverifyRounds,
      compareMs,
      reverifyMs,
      ...(ruled.notCompared.length > 0 ? { notCompared: ruled.notCompared } : {}),
    };
  }

  /** Capture's rules for the legacy table a comparison reads (its sourceTable, else the table in its FROM). */
  private columnRulesOf(comparison: TableComparison, sourceSchema: string) {
    const table =
      comparison.sourceTable ?? /^\s*\{source\}\.("?)(\w+)\1\s*$/.exec(comparison.source.from)?.[2];
    if (!table) return null;
    const [schema, name] = table.includes('.') ? table.split('.') : [sourceSchema, table];
    return this.columns.of(schema, name);
  }
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
