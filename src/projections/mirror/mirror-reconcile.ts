import { ident } from '../../connectors/postgres-target/sql';
import type { TableComparison } from '../framework/define-reconciliation';
import { isoUtc, jsonText } from '../reconcile-sql';
import type { MirrorTableSpec } from './mirror-spec';

/** A column as text that is the same on both databases whatever their sessions' time zones. */
function canonical(column: string, type: string): string {
  const expr = ident(column);
  if (type === 'timestamp with time zone') return isoUtc(expr);
  // a number in a json document goes through JavaScript on its way (0.50 arrives as 0.5)
  if (type === 'json' || type === 'jsonb') return jsonText(expr);
  if (type === 'time with time zone') return `((${expr}) AT TIME ZONE 'UTC')::text`;
  return `(${expr})::text`;
}

const keyText = (columns: string[]) => `concat_ws(chr(31), ${columns.map((column) => `(${ident(column)})::text`).join(', ')})`;

/**
 * How reconciliation compares a mirrored table, derived from its mapping: every mirrored column
 * under its target name (excluded ones left out), the source side filtered by the row filter.
 */
export function mirrorComparison(spec: MirrorTableSpec): TableComparison {
  const sourceTable = spec.source.slice(spec.source.indexOf('.') + 1);
  const targetOf = (column: string) => spec.renames[column] ?? column;
  return {
    name: spec.target,
    sourceTable: spec.source,
    source: {
      from: `{source}.${ident(sourceTable)}`,
      key: keyText(spec.key),
      columns: Object.fromEntries(spec.columns.map((column) => [column.target, canonical(column.source, column.type)])),
      ...(spec.where !== null ? { where: spec.where } : {}),
    },
    target: {
      from: `{target}.${ident(spec.target)}`,
      key: keyText(spec.key.map(targetOf)),
      columns: Object.fromEntries(spec.columns.map((column) => [column.target, canonical(column.target, column.type)])),
    },
    // the Kafka key holds the primary key's source columns, as keyText joins them
    quarantineKey: (key) => (spec.key.every((column) => key[column] !== undefined) ? spec.key.map((column) => String(key[column])).join('\u001f') : null),
  };
}
