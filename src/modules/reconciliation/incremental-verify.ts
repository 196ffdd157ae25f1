import { createHash } from 'crypto';
import type { Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import { readKeysBetween, type OffsetRange } from '../../connectors/kafka/key-reader';
import { diffRows, type ComparisonReader, type ComparisonResult } from './bucket-comparison';
import type { ReconciliationReport } from './reconciliation-report';
import type { Logger } from '../../shared/logger';

/**
 * Verification limited to what changed since the last clean full reconciliation (the cutover's
 * verified gate). A full reconciliation records the projection's applied offsets before it compares;
 * when it found nothing, every row that has not changed since is still equal, unless something other
 * than the projector wrote the target. So only the keys of the change records applied after those
 * offsets (up to the drained ones) are compared, row by row. Anything that could make that unsafe
 * falls back to a full comparison, with the reason logged.
 */

/** Beyond this many change records since the last reconciliation, a full comparison is the cheaper one. */
const MAX_CHANGED_RECORDS = 200_000;

/** What the reconciliation compares: a stored report is a base only for the same specs. */
export function specFingerprint(definition: ProjectionDefinition<unknown>): string {
  const specs = (definition.reconcile ?? []).map((c) => ({ name: c.name, sourceTable: c.sourceTable, source: c.source, target: c.target }));
  return createHash('sha256').update(JSON.stringify(specs)).digest('hex').slice(0, 32);
}

export interface IncrementalPlan {
  /** The clean full reconciliation the changes are counted from. */
  since: number;
  changedKeys: number;
  /** Per comparison name, the keys to compare. */
  keys: Map<string, string[]>;
}

const SINGLE_TABLE = /^\s*\{source\}\.("?)(\w+)\1\s*$/;

async function cleanBase(target: Pool, definition: ProjectionDefinition<unknown>): Promise<ReconciliationReport | string> {
  const { rows } = await target.query<{ id: string; report: ReconciliationReport & { specFingerprint?: string; checkpoints?: Record<string, string> } }>(
    `SELECT id, report FROM tandem.reconciliations
      WHERE projection = $1 AND coalesce(report->>'direction', 'forward') = 'forward' AND report->'verifiedSince' IS NULL
      ORDER BY id DESC LIMIT 1`,
    [definition.name],
  );
  const base = rows[0]?.report;
  if (!base) return 'no full reconciliation recorded';
  if (base.specFingerprint !== specFingerprint(definition) || !base.checkpoints) return `reconciliation ${rows[0].id} compared other specs`;
  const clean = base.verdict === 'PASS' && base.tables.every((t) => t.missing + t.extra + t.mismatched + t.quarantined === 0);
  if (!clean) return `the last full reconciliation (${rows[0].id}) found differences`;
  const { rows: rebuilt } = await target.query(
    `SELECT 1 FROM tandem.replays WHERE projection = $1 AND status IN ('running', 'swapped') AND started_at >= $2
     UNION ALL SELECT 1 FROM tandem.backups WHERE projection = $1 AND restored_at >= $2
     UNION ALL SELECT 1 FROM tandem.projection_migrations WHERE projection = $1 AND applied_at >= $2`,
    [definition.name, base.startedAt],
  );
  if (rebuilt.length > 0) return `the projection was replayed, restored or migrated after reconciliation ${rows[0].id}`;
  return { ...base, id: Number(rows[0].id) };
}

export async function planIncremental(
  target: Pool,
  kafka: () => Kafka,
  definition: ProjectionDefinition<unknown>,
  drained: Record<string, string>,
): Promise<IncrementalPlan | { fallback: string }> {
  const base = await cleanBase(target, definition);
  if (typeof base === 'string') return { fallback: base };
  const from = (base as ReconciliationReport & { checkpoints: Record<string, string> }).checkpoints;
  const ranges: OffsetRange[] = [];
  for (const [id, through] of Object.entries(drained)) {
    const cut = id.lastIndexOf('#');
    const range = { topic: id.slice(0, cut), partition: Number(id.slice(cut + 1)), after: BigInt(from[id] ?? '-1'), through: BigInt(through) };
    if (range.through < range.after) return { fallback: `${id} was applied only up to ${through}, before reconciliation ${base.id}'s ${from[id]}` };
    ranges.push(range);
  }
  const changed = await readKeysBetween(kafka(), ranges, MAX_CHANGED_RECORDS);
  if (changed === null) return { fallback: `more than ${MAX_CHANGED_RECORDS} changes, or changes no longer in Kafka, since reconciliation ${base.id}` };
  const keys = new Map<string, string[]>();
  let changedKeys = 0;
  for (const [topic, sourceKeys] of changed) {
    const comparison = definition.reconcile!.find((c) => c.sourceTable && topic.endsWith(`.${c.sourceTable}`));
    if (!comparison || !comparison.quarantineKey || !SINGLE_TABLE.test(comparison.source.from))
      return { fallback: `changes to ${topic}, which no single-table comparison with a key mapping covers` };
    const mapped = keys.get(comparison.name) ?? [];
    for (const sourceKey of sourceKeys) {
      const key = comparison.quarantineKey(JSON.parse(sourceKey));
      if (key === null) return { fallback: `a change to ${topic} whose key ${sourceKey} maps to no compared key` };
      mapped.push(key);
    }
    changedKeys += sourceKeys.size;
    keys.set(comparison.name, mapped);
  }
  return { since: base.id!, changedKeys, keys };
}

/** The plan for a drained projection, or null (logged with the reason) when every row must be compared. */
export async function incrementalPlanFor(
  target: Pool,
  kafka: () => Kafka,
  definition: ProjectionDefinition<unknown>,
  drained: Record<string, string> | undefined,
  logger: Logger,
): Promise<IncrementalPlan | null> {
  if (!drained) return null;
  const planned = Date.now();
  const plan = await planIncremental(target, kafka, definition, drained);
  const planMs = Date.now() - planned;
  if ('fallback' in plan) {
    logger.info({ projection: definition.name, reason: plan.fallback }, 'verifying every row');
    return null;
  }
  logger.info({ projection: definition.name, since: plan.since, changedKeys: plan.changedKeys, planMs }, 'verifying the rows changed since the last clean reconciliation');
  return plan;
}

/** The comparison of these keys only (counts are those of the rows with these keys). */
export async function compareKeys(source: ComparisonReader, target: ComparisonReader, keys: string[]): Promise<ComparisonResult> {
  const [a, b] = keys.length === 0 ? [new Map(), new Map()] : await Promise.all([source.rowsByKey(keys), target.rowsByKey(keys)]);
  const { matched, differences } = diffRows(a, b);
  return { sourceCount: a.size, targetCount: b.size, matched, differences, bucketsCompared: 0, scans: 0, rowsFetched: a.size + b.size };
}
