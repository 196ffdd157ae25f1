import type { ClientBase } from 'pg';
import { ident, qualified, type SqlStatement } from './sql';

const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

/**
 * Orders a delete by (column, source LSN) instead of the source LSN alone: the rows it may delete are
 * those with (column, _source_lsn) <= (value, event LSN), compared as a row (lexicographically).
 */
export interface VersionBound {
  column: string;
  value: string | number;
}

/**
 * A precondition: the operation takes effect only while a row matching every column of `match`
 * exists in `table` (same schema), e.g. only while the event is still the winning version of a
 * document. Checked inside the statement, in the same transaction.
 */
export interface WriteCondition {
  table: string;
  match: Record<string, unknown>;
}

/** A row operation, as a projection's apply() returns it (RowOperation in define-projection.ts). */
export type WriteOperation =
  /**
   * Insert or update by the `key` columns (a primary key or unique constraint of the table).
   * Optional `version`: a column of the row compared before the source LSN, so that an update
   * happens when (stored version, stored LSN) <= (row's version, event LSN): for sources whose order
   * is not the log's (e.g. "the row with the latest updated_at wins"). Optional `when`: write only
   * while a precondition row exists.
   */
  | { op: 'upsert'; table: string; key: string[]; row: Record<string, unknown>; version?: string; when?: WriteCondition }
  /** Delete the rows that match every column of `match` (optional `version` bound and `when` as for upsert). */
  | { op: 'delete'; table: string; match: Record<string, unknown>; version?: VersionBound; when?: WriteCondition }
  /** Delete the rows that match `match` and whose `column` is not in `keep` (an entity removed from a document). */
  | {
      op: 'deleteExcept';
      table: string;
      match: Record<string, unknown>;
      column: string;
      keep: unknown[];
      version?: VersionBound;
      when?: WriteCondition;
    }
  /** Record that a source id became a new target id (tandem.id_map). */
  | { op: 'mapId'; entity: string; sourceId: string; targetId: string };

export interface SourcedOperation {
  operation: WriteOperation;
  sourceKey: string;
  lsn: bigint;
}

/**
 * Turns row operations into few SQL statements: runs of upserts into one table become one
 * multi-row INSERT … SELECT FROM jsonb_populate_recordset … ON CONFLICT DO UPDATE, guarded by the
 * source LSN. A column carrying the unchanged-TOAST placeholder is left out, so the stored value stays.
 * With `version`, the guard compares (version column, source LSN) instead of the LSN alone; with
 * `when`, the statement writes nothing unless the precondition row exists.
 */
export function planStatements(projection: string, schema: string, operations: SourcedOperation[]): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let run: SourcedOperation[] = [];
  let runSignature = '';

  const flush = () => {
    if (run.length === 0) return;
    const first = run[0].operation;
    statements.push(first.op === 'mapId' ? mapIdStatement(projection, run) : upsertStatement(schema, run));
    run = [];
    runSignature = '';
  };

  for (const sourced of operations) {
    const { operation } = sourced;
    if (operation.op === 'upsert' || operation.op === 'mapId') {
      const signature = operation.op === 'mapId' ? 'mapId' : upsertSignature(operation);
      if (signature !== runSignature) flush();
      run.push(sourced);
      runSignature = signature;
      continue;
    }
    flush();
    statements.push(operation.op === 'delete' ? deleteStatement(schema, sourced) : deleteExceptStatement(schema, sourced));
  }
  flush();
  return statements;
}

function writtenColumns(row: Record<string, unknown>): string[] {
  return Object.keys(row).filter((column) => row[column] !== UNAVAILABLE_VALUE);
}

function hasUnavailableValues(row: Record<string, unknown>): boolean {
  return Object.values(row).some((value) => value === UNAVAILABLE_VALUE);
}

function upsertSignature(operation: Extract<WriteOperation, { op: 'upsert' }>): string {
  return JSON.stringify([
    operation.table,
    operation.key,
    writtenColumns(operation.row),
    hasUnavailableValues(operation.row),
    operation.version ?? null,
    operation.when ?? null,
  ]);
}

/** `EXISTS (SELECT 1 FROM <schema>.<table> WHERE …)` for a precondition, its values appended to `values`. */
function conditionClause(schema: string, when: WriteCondition, values: unknown[]): string {
  const conditions = matchClause(when.match, values);
  return `EXISTS (SELECT 1 FROM ${qualified(schema, when.table)} WHERE ${conditions.length > 0 ? conditions.join(' AND ') : 'true'})`;
}

/** The guard of a delete: by source LSN, or by (version column, source LSN) when a version bound is given. */
function deleteGuard(version: VersionBound | undefined, lsn: bigint, values: unknown[]): string {
  if (!version) {
    values.push(Number(lsn));
    return `_source_lsn <= $${values.length}`;
  }
  values.push(version.value, Number(lsn));
  return `(${ident(version.column)}, _source_lsn) <= ($${values.length - 1}, $${values.length}::bigint)`;
}

function upsertStatement(schema: string, run: SourcedOperation[]): SqlStatement {
  const first = run[0].operation as Extract<WriteOperation, { op: 'upsert' }>;
  const columns = [...writtenColumns(first.row), '_source_key', '_source_lsn'];
  // Later operations on the same key win: one statement cannot update a row twice.
  const byKey = new Map<string, Record<string, unknown>>();
  for (const { operation, sourceKey, lsn } of run) {
    const upsert = operation as Extract<WriteOperation, { op: 'upsert' }>;
    const key = JSON.stringify(upsert.key.map((column) => upsert.row[column]));
    byKey.delete(key);
    const written = Object.fromEntries(writtenColumns(upsert.row).map((column) => [column, upsert.row[column]]));
    byKey.set(key, { ...written, _source_key: sourceKey, _source_lsn: Number(lsn) });
  }
  if (hasUnavailableValues(first.row)) return partialUpdateStatement(schema, first, columns, [...byKey.values()]);
  const table = qualified(schema, first.table);
  const list = columns.map(ident).join(', ');
  const updates = columns.filter((column) => !first.key.includes(column)).map((column) => `${ident(column)} = EXCLUDED.${ident(column)}`);
  const guard = first.version
    ? `(target.${ident(first.version)}, target._source_lsn) <= (EXCLUDED.${ident(first.version)}, EXCLUDED._source_lsn)`
    : 'target._source_lsn <= EXCLUDED._source_lsn';
  const conflict = updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')} WHERE ${guard}`;
  const values: unknown[] = [JSON.stringify([...byKey.values()])];
  const condition = first.when ? ` WHERE ${conditionClause(schema, first.when, values)}` : '';
  return {
    text: `INSERT INTO ${table} AS target (${list}) SELECT ${list} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)${condition} ON CONFLICT (${first.key.map(ident).join(', ')}) ${conflict}`,
    values,
  };
}

/**
 * Rows that carry the unchanged-TOAST placeholder exist already (PostgreSQL omits a value only when
 * updating a stored row), so they are written with an UPDATE of the columns they do carry: an INSERT
 * would check NOT NULL on the omitted columns before finding the existing row.
 */
function partialUpdateStatement(
  schema: string,
  first: Extract<WriteOperation, { op: 'upsert' }>,
  columns: string[],
  rows: Array<Record<string, unknown>>,
): SqlStatement {
  const table = qualified(schema, first.table);
  const sets = columns.filter((column) => !first.key.includes(column)).map((column) => `${ident(column)} = source.${ident(column)}`);
  const joins = first.key.map((column) => `target.${ident(column)} = source.${ident(column)}`);
  const guard = first.version
    ? `(target.${ident(first.version)}, target._source_lsn) <= (source.${ident(first.version)}, source._source_lsn)`
    : 'target._source_lsn <= source._source_lsn';
  const values: unknown[] = [JSON.stringify(rows)];
  const condition = first.when ? ` AND ${conditionClause(schema, first.when, values)}` : '';
  return {
    text: `UPDATE ${table} AS target SET ${sets.join(', ')} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb) AS source WHERE ${joins.join(' AND ')} AND ${guard}${condition}`,
    values,
  };
}

function matchClause(match: Record<string, unknown>, values: unknown[]): string[] {
  return Object.entries(match).map(([column, value]) => {
    values.push(value);
    return `${ident(column)} = $${values.length}`;
  });
}

function deleteStatement(schema: string, { operation, lsn }: SourcedOperation): SqlStatement {
  const del = operation as Extract<WriteOperation, { op: 'delete' }>;
  const values: unknown[] = [];
  const conditions = matchClause(del.match, values);
  conditions.push(deleteGuard(del.version, lsn, values));
  if (del.when) conditions.push(conditionClause(schema, del.when, values));
  return { text: `DELETE FROM ${qualified(schema, del.table)} WHERE ${conditions.join(' AND ')}`, values };
}

function deleteExceptStatement(schema: string, { operation, lsn }: SourcedOperation): SqlStatement {
  const del = operation as Extract<WriteOperation, { op: 'deleteExcept' }>;
  const values: unknown[] = [];
  const conditions = matchClause(del.match, values);
  values.push(del.keep);
  conditions.push(`NOT (${ident(del.column)} = ANY($${values.length}))`);
  conditions.push(deleteGuard(del.version, lsn, values));
  if (del.when) conditions.push(conditionClause(schema, del.when, values));
  return { text: `DELETE FROM ${qualified(schema, del.table)} WHERE ${conditions.join(' AND ')}`, values };
}

function mapIdStatement(projection: string, run: SourcedOperation[]): SqlStatement {
  const rows = new Map<string, Record<string, unknown>>();
  for (const { operation, lsn } of run) {
    const map = operation as Extract<WriteOperation, { op: 'mapId' }>;
    rows.set(`${map.entity}\u0000${map.sourceId}`, {
      entity: map.entity,
      source_id: map.sourceId,
      target_id: map.targetId,
      source_lsn: Number(lsn),
    });
  }
  return {
    text: `INSERT INTO tandem.id_map AS m (projection, entity, source_id, target_id, source_lsn)
           SELECT $1, entity, source_id, target_id, source_lsn
             FROM jsonb_to_recordset($2::jsonb) AS r(entity text, source_id text, target_id text, source_lsn bigint)
           ON CONFLICT (projection, entity, source_id)
           DO UPDATE SET target_id = EXCLUDED.target_id, source_lsn = EXCLUDED.source_lsn WHERE m.source_lsn <= EXCLUDED.source_lsn`,
    values: [projection, JSON.stringify([...rows.values()])],
  };
}

export async function executeStatements(client: ClientBase, statements: SqlStatement[]): Promise<void> {
  for (const statement of statements) await client.query(statement.text, statement.values);
}
