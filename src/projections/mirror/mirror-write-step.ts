import type { ClientBase } from 'pg';
import { ident } from '../../connectors/postgres-target/sql';
import { appendMirrorStep, loadMirrorSteps, lockMirrorSteps } from '../../connectors/postgres-target/mirror-steps';
import { recordAppliedMigration } from '../../connectors/postgres-target/migrations';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import type { BeforeWriteEvent, RowOperation } from '../framework/define-projection';
import { addColumnSql } from './mirror-ddl';
import { readMirrorSource, specFromSource } from './mirror-source';
import type { MirrorColumn, MirrorTableSpec } from './mirror-spec';
import { targetKey, targetValue } from './mirror-rows';

/** A column the source gained, as kept in tandem.mirror_steps. */
export interface ColumnStep {
  table: string;
  column: MirrorColumn;
  enums: Array<{ name: string; labels: string[] }>;
}

export interface MirrorRuntime {
  projection: string;
  /** The live target schema (a replay writes a shadow schema). */
  schema: string;
  sourceUrl: string;
  /** By source table; a column the source gains is appended to its spec. */
  tables: Map<string, MirrorTableSpec>;
}

type Event = BeforeWriteEvent<Record<string, unknown>>;

/**
 * The mirror's step before a batch is written (ProjectionDefinition.beforeWrite): adds a column the
 * source gained (from its first event on, with its type and default, recorded as a migration),
 * converts values by the target columns' types, and applies each table's row filter.
 */
export function mirrorBeforeWrite(runtime: MirrorRuntime) {
  return async (db: ClientBase, schema: string, events: Event[]): Promise<RowOperation[][]> => {
    await db.query(`SELECT set_config('search_path', $1, true)`, [`${ident(schema)}, public`]);
    // a deferrable foreign key is checked per statement here, so that a refused row waits alone
    await db.query('SET CONSTRAINTS ALL IMMEDIATE');
    let columns = await targetColumns(db, schema);
    const missing = newColumns(runtime, events, columns);
    if (missing.length > 0) {
      await addColumns(db, runtime, schema, missing);
      columns = await targetColumns(db, schema);
    }
    const converted = events.map(({ operations }) => operations.map((operation) => convert(operation, columns)));
    for (const spec of runtime.tables.values()) {
      if (spec.where !== null) await applyFilter(db, spec, events, converted);
    }
    return converted;
  };
}

async function targetColumns(db: ClientBase, schema: string): Promise<Map<string, Map<string, string>>> {
  const { rows } = await db.query<{ table: string; column: string; type: string }>(
    `SELECT c.relname AS "table", a.attname AS "column", format_type(a.atttypid, a.atttypmod) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  const tables = new Map<string, Map<string, string>>();
  for (const row of rows) {
    if (!tables.has(row.table)) tables.set(row.table, new Map());
    tables.get(row.table)!.set(row.column, row.type);
  }
  return tables;
}

/** Source columns written by these events that the target table lacks: (source table, source column). */
function newColumns(runtime: MirrorRuntime, events: Event[], columns: Map<string, Map<string, string>>): Array<[string, string]> {
  const found = new Map<string, [string, string]>();
  for (const { event, operations } of events) {
    const spec = runtime.tables.get(event.source);
    if (!spec) continue;
    for (const operation of operations) {
      if (operation.op !== 'upsert') continue;
      const present = columns.get(operation.table);
      for (const column of Object.keys(operation.row)) {
        if (present?.has(column) || spec.columns.some((known) => known.target === column && known.generated)) continue;
        const source = Object.entries(spec.renames).find(([, target]) => target === column)?.[0] ?? column;
        found.set(`${event.source}\u0000${source}`, [event.source, source]);
      }
    }
  }
  return [...found.values()];
}

async function addColumns(db: ClientBase, runtime: MirrorRuntime, schema: string, missing: Array<[string, string]>): Promise<void> {
  await lockMirrorSteps(db, runtime.projection);
  const steps = await loadMirrorSteps(db, runtime.projection);
  const known = (table: string, column: string) =>
    steps.find((step) => step.kind === 'column' && step.sourceTable === table && (step.spec as ColumnStep).column.source === column);
  const unknown = missing.filter(([table, column]) => !known(table, column));
  const source = unknown.length > 0 ? await readMirrorSource(runtime.sourceUrl, [...runtime.tables.values()].map(mappingOf)) : null;
  for (const [table, column] of missing) {
    const spec = runtime.tables.get(table)!;
    let version = known(table, column)?.version;
    let step = known(table, column)?.spec as ColumnStep | undefined;
    if (!step) {
      const fresh = specFromSource(source!, mappingOf(spec));
      const found = fresh.columns.find((candidate) => candidate.source === column);
      if (!found) throw new Error(`mirror ${runtime.projection}: ${table} has no column "${column}" in the source catalog, yet an event carries it`);
      step = { table: spec.target, column: found, enums: fresh.enums.filter((type) => found.type.replace(/(\[\])+$/, '') === ident(type.name)) };
      version = await appendMirrorStep(db, runtime.projection, { kind: 'column', sourceTable: table, spec: step });
    }
    const sql = addColumnSql(step.table, step.column, step.enums);
    await db.query(sql);
    if (schema === runtime.schema) await recordAppliedMigration(db, runtime.projection, version!, columnStepName(table, step), sql);
    if (!spec.columns.some((candidate) => candidate.source === column)) spec.columns.push(step.column);
  }
}

export const columnStepName = (table: string, step: ColumnStep) => `mirror ${table}: column ${step.column.source} added at the source`;

export function mappingOf(spec: MirrorTableSpec) {
  return { from: spec.source, to: spec.target, columns: spec.renames, exclude: spec.exclude, where: spec.where };
}

function convert(operation: RowOperation, columns: Map<string, Map<string, string>>): RowOperation {
  if (operation.op !== 'upsert') return operation;
  const types = columns.get(operation.table);
  if (!types) return operation;
  let row: Record<string, unknown> | null = null; // copied only when a value changes
  for (const column of Object.keys(operation.row)) {
    const value = operation.row[column];
    const converted = targetValue(types.get(column) ?? '', value);
    if (converted !== value) (row ??= { ...operation.row })[column] = converted;
  }
  return row === null ? operation : { ...operation, row };
}

/**
 * Evaluates the table's row filter over each event's new source row, in the target (its types are
 * the source's): a row that does not pass is deleted from the target (it may have passed before),
 * one that passes is upserted. A filter column left out of an update (unchanged TOAST) counts as passing.
 */
async function applyFilter(db: ClientBase, spec: MirrorTableSpec, events: Event[], operations: RowOperation[][]): Promise<void> {
  const indexes = events.flatMap(({ event }, index) => (event.source === spec.source && event.after !== null ? [index] : []));
  if (indexes.length === 0) return;
  const rows = indexes.map((index) => {
    const after = events[index].event.after!;
    if (spec.filterColumns.some(({ name }) => after[name] === UNAVAILABLE_VALUE)) return null;
    return Object.fromEntries(spec.filterColumns.map(({ name, type }) => [name, targetValue(type, after[name] ?? null)]));
  });
  const definitions = spec.filterColumns.map(({ name, type }) => `${ident(name)} ${type}`).join(', ');
  const { rows: verdicts } = await db.query<{ keep: boolean }>(
    `SELECT CASE WHEN jsonb_typeof(e) = 'null' THEN true
                 ELSE coalesce((SELECT (${spec.where}) FROM jsonb_to_record(e) AS s(${definitions || '"__tandem_none" int'})), false) END AS keep
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, i) ORDER BY i`,
    [JSON.stringify(rows)],
  );
  indexes.forEach((index, position) => {
    if (verdicts[position].keep) return;
    const after = events[index].event.after!;
    operations[index] = [{ op: 'delete', table: spec.target, match: targetKey(spec, after) }];
  });
}
