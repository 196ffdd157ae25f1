import type { Pool } from 'pg';
import { ident } from '../../connectors/postgres-target/sql';
import type { GuardedOperation } from '../../connectors/postgres-legacy/legacy-writer';
import type { ProjectionDefinition } from '../../projections/framework/define-projection';
import type { LegacyRowOperation, TargetChange } from '../../projections/framework/define-inverse';
import { invertChange, type FailbackItem } from './failback-decoder';
import type { FailbackUnit } from './failback-batch';

/**
 * The legacy writes of each record of a batch, through the projection's inverse: `apply` per change
 * (pure), or `render`: the keys every change touches, rendered once by SQL over the target's
 * current state (a key without a row is a delete).
 */
export async function failbackUnits(definition: ProjectionDefinition<unknown>, target: Pool, items: FailbackItem[]): Promise<FailbackUnit[]> {
  const render = definition.invert?.render;
  const units: FailbackUnit[] = [];
  const keysOf = new Map<FailbackItem, Array<Record<string, unknown>>>();
  for (const item of items) {
    const { decoded, record } = item;
    if (decoded.kind === 'skip') continue;
    if (decoded.kind === 'reject') {
      units.push({ record, reject: decoded.reason, value: decoded.value });
      continue;
    }
    try {
      if (render) keysOf.set(item, render.keysOf(decoded.change));
      else units.push({ record, operations: guard(invertChange(definition, decoded.change), decoded.change), commitTimeMs: decoded.change.commitTimeMs });
    } catch (error) {
      units.push({ record, reject: `the inverse of ${definition.name} failed: ${(error as Error).message}`, value: JSON.parse(record.value!) });
    }
  }
  if (!render || keysOf.size === 0) return units;
  const by = render.by ?? render.key;
  const keyId = (key: Record<string, unknown>) => JSON.stringify(by.map((column) => String(key[column])));
  const wanted = new Map<string, Record<string, unknown>>();
  for (const keys of keysOf.values()) for (const key of keys) wanted.set(keyId(key), key);
  const sql = render.sql.replace(/\{target\}/g, ident(definition.schema));
  const { rows } = await target.query<{ row: Record<string, unknown> }>(`SELECT to_jsonb(rendered) AS row FROM (${sql}) AS rendered`, [
    JSON.stringify([...wanted.values()]),
  ]);
  const rendered = new Map(rows.map(({ row }) => [keyId(row), row]));
  for (const [item, keys] of keysOf) {
    const change = (item.decoded as { change: TargetChange }).change;
    const operations: LegacyRowOperation[] = keys.map((key) => {
      const row = rendered.get(keyId(key));
      return row ? { op: 'upsert', table: render.table, key: render.key, row } : { op: 'delete', table: render.table, match: key };
    });
    units.push({ record: item.record, operations: guard(operations, change), commitTimeMs: change.commitTimeMs });
  }
  return units.sort((a, b) => (a.record.offset < b.record.offset ? -1 : a.record.offset > b.record.offset ? 1 : 0));
}

function guard(operations: LegacyRowOperation[], change: TargetChange): GuardedOperation[] {
  return operations.map((operation) => ({ operation, lsn: change.commitLsn }));
}
