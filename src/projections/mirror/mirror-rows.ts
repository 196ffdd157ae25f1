import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import type { ProjectionEvent, RowOperation } from '../framework/define-projection';

/** How one source table's rows become target rows (the part of a MirrorTableSpec that apply needs). */
export interface RowMapping {
  target: string;
  /** Primary-key columns (source names). */
  key: string[];
  renames: Record<string, string>;
  exclude: string[];
  /** Generated columns are computed by the target (their values are left out of the rows written). */
  columns?: Array<{ source: string; generated?: string | null }>;
}

export const targetColumn = (mapping: RowMapping, source: string) => mapping.renames[source] ?? source;

/** The target row of a source row: excluded columns left out, renamed ones renamed; values as captured. */
export function targetRow(mapping: RowMapping, row: Record<string, unknown>): Record<string, unknown> {
  const leftOut = leftOutColumns(mapping);
  const target: Record<string, unknown> = {};
  for (const column of Object.keys(row)) {
    if (!leftOut.has(column)) target[targetColumn(mapping, column)] = row[column];
  }
  return target;
}

/** By mapping: the source columns its target rows leave out, and how many columns it had then (a column the source gains is appended). */
const leftOutByMapping = new WeakMap<RowMapping, { columns: number; names: Set<string> }>();

function leftOutColumns(mapping: RowMapping): Set<string> {
  const columns = mapping.columns?.length ?? 0;
  const known = leftOutByMapping.get(mapping);
  if (known?.columns === columns) return known.names;
  const names = new Set([...mapping.exclude, ...(mapping.columns ?? []).filter((column) => column.generated).map((column) => column.source)]);
  leftOutByMapping.set(mapping, { columns, names });
  return names;
}

/** The target key of a source row (from the delete's old row or the new row). */
export function targetKey(mapping: RowMapping, row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(mapping.key.map((column) => [targetColumn(mapping, column), row[column]]));
}

/**
 * A source change as row operations, 1:1: an insert, snapshot read or update upserts the row by its
 * key, a delete deletes it, a TRUNCATE deletes every row written before it (each guarded by the
 * source LSN in the row writer). The row filter is applied when the batch is written (mirror-write-step.ts).
 */
export function mirrorOperations(mapping: RowMapping, event: ProjectionEvent<Record<string, unknown>>): RowOperation[] {
  if (event.op === 't') return [{ op: 'delete', table: mapping.target, match: {} }];
  if (event.op === 'd') {
    if (!event.before) throw new Error(`a delete of ${event.source} without its old key`);
    return [{ op: 'delete', table: mapping.target, match: targetKey(mapping, event.before) }];
  }
  const row = event.after!;
  return [{ op: 'upsert', table: mapping.target, key: mapping.key.map((column) => targetColumn(mapping, column)), row: targetRow(mapping, row) }];
}

/**
 * A captured value as the target column's type takes it through jsonb_populate_recordset: a json or
 * jsonb column arrives as the document's text (stored as the document, not as a JSON string), bytea
 * as base64 (given to PostgreSQL as hex). Other types' text forms are PostgreSQL's own input forms.
 */
export function targetValue(type: string, value: unknown): unknown {
  if (value === null || value === undefined || value === UNAVAILABLE_VALUE) return value;
  const element = type.endsWith('[]') ? type.replace(/(\[\])+$/, '') : type;
  if (element !== 'json' && element !== 'jsonb' && element !== 'bytea') return value; // its text is its input form
  // a json/jsonb/bytea value, or an array of them converted element-wise
  const convert = (item: unknown): unknown => {
    if (item === null || typeof item !== 'string') return Array.isArray(item) ? item.map(convert) : item;
    return element === 'bytea' ? `\\x${Buffer.from(item, 'base64').toString('hex')}` : JSON.parse(item);
  };
  return convert(value);
}
