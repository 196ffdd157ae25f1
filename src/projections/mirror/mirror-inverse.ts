import type { LegacyRowOperation, ProjectionInverse, TargetChange } from '../framework/define-inverse';
import type { MirrorTableSpec } from './mirror-spec';
import { targetValue } from './mirror-rows';

/**
 * A mirror's inverse, derived from its mapping: each target row goes back to its source table with
 * the renames reversed. Excluded and generated columns are never written, so they keep their legacy
 * values on an update and take their legacy defaults on an insert. The row filter is respected: a
 * legacy row outside it (one the mirror never carried) is neither overwritten nor deleted.
 */
export function mirrorInverse(specs: MirrorTableSpec[]): ProjectionInverse {
  const byTarget = new Map(specs.map((spec) => [spec.target, spec]));
  return {
    tables: specs.map((spec) => spec.target),
    apply(change: TargetChange): LegacyRowOperation[] {
      const spec = byTarget.get(change.table);
      if (!spec) throw new Error(`${change.table} is not a table of this mirror`);
      const onlyWhere = spec.where ?? undefined;
      if (change.op === 'd') return [{ op: 'delete', table: spec.source, match: sourceRow(spec, change.before!, spec.key), ...(onlyWhere ? { onlyWhere } : {}) }];
      const written = spec.columns.filter((column) => !column.generated).map((column) => column.source);
      return [{ op: 'upsert', table: spec.source, key: spec.key, row: sourceRow(spec, change.after!, written), ...(onlyWhere ? { onlyWhere } : {}) }];
    },
  };
}

/** The given source columns of a target row, read under their target names. */
function sourceRow(spec: MirrorTableSpec, row: Record<string, unknown>, columns: string[]): Record<string, unknown> {
  const targetOf = new Map(spec.columns.map((column) => [column.source, column.target]));
  const typeOf = new Map(spec.columns.map((column) => [column.source, column.type]));
  return Object.fromEntries(columns.map((column) => [column, targetValue(typeOf.get(column) ?? '', row[targetOf.get(column) ?? column])]));
}
