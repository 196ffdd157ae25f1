import type { ClientBase, Pool } from 'pg';
import { ident, qualified, type SqlStatement } from './sql';
import { batchedDeleteStatement, conditionalUpsertStatement, conflictAction } from './batched-statements';
import type { RowOperation, VersionBound, WriteCondition } from '../../contracts/row-operation';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import { preparedQuery } from './prepared-statements';
import { hasUnavailableValues, keyOf, signatureOf, writtenColumns } from './operation-signature';

export { keyOf };
import { rowJson } from './batched-statements';

export interface SourcedOperation {
  operation: RowOperation;
  sourceKey: string;
  lsn: bigint;
  /** operationSignature(operation), once computed (signatureOf). */
  signature?: string;
}

/**
 * Turns row operations into few SQL statements: runs of upserts into one table become one
 * multi-row INSERT … SELECT FROM jsonb_populate_recordset … ON CONFLICT DO UPDATE, guarded by the
 * source LSN. A column carrying the unchanged-TOAST placeholder is left out, so the stored value stays.
 * With `version`, the guard compares (version column, source LSN) instead of the LSN alone; with
 * `when`, the statement writes nothing unless the precondition row exists.
 */
export function planStatements(
  projection: string,
  schema: string,
  operations: SourcedOperation[],
): SqlStatement[] {
  return [...statementsOf(projection, schema, operations)];
}

/** planStatements one statement at a time, so that a caller can pause between them. */
export function* statementsOf(
  projection: string,
  schema: string,
  operations: SourcedOperation[],
): Generator<SqlStatement> {
  // Id mappings go last: no operation reads tandem.id_map, so moving them keeps every result and
  // lets a batch's upserts (e.g. docs, users) form one run instead of alternating with mapId.
  const ordered = [
    ...operations.filter(({ operation }) => operation.op !== 'mapId'),
    ...operations.filter(({ operation }) => operation.op === 'mapId'),
  ];
  let run: SourcedOperation[] = [];
  let runSignature = '';
  for (const sourced of ordered) {
    const signature = signatureOf(sourced);
    if (signature !== runSignature && run.length > 0) {
      yield runStatement(projection, schema, run);
      run = [];
    }
    run.push(sourced);
    runSignature = signature;
  }
  if (run.length > 0) yield runStatement(projection, schema, run);
}

function runStatement(projection: string, schema: string, run: SourcedOperation[]): SqlStatement {
  const first = run[0].operation;
  switch (first.op) {
    case 'mapId':
      return mapIdStatement(projection, run);
    case 'upsert':
      // With a version, the same key twice must keep the greatest (version, LSN), which only
      // PostgreSQL can order (by the column's type): the per-row form does that.
      return sameCondition(run) && !(first.version && hasRepeatedKey(run))
        ? upsertStatement(schema, run)
        : conditionalUpsertStatement(schema, run);
    case 'delete':
      return run.length === 1 ? deleteStatement(schema, run[0]) : batchedDeleteStatement(schema, run);
    case 'deleteExcept':
      return run.length === 1 ? deleteExceptStatement(schema, run[0]) : batchedDeleteStatement(schema, run);
  }
}

function hasRepeatedKey(run: SourcedOperation[]): boolean {
  const keys = new Set(run.map(({ operation }) => keyOf(operation as Extract<RowOperation, { op: 'upsert' }>)));
  return keys.size < run.length;
}


/** Whether every operation of a run has the same precondition values (or none). */
function sameCondition(run: SourcedOperation[]): boolean {
  const conditionOf = (sourced: SourcedOperation) =>
    JSON.stringify((sourced.operation as { when?: WriteCondition }).when?.match ?? null);
  const first = conditionOf(run[0]);
  return run.every((sourced) => conditionOf(sourced) === first);
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
  const first = run[0].operation as Extract<RowOperation, { op: 'upsert' }>;
  const columns = [...writtenColumns(first.row), '_source_key', '_source_lsn'];
  if (hasUnavailableValues(first.row)) return partialUpdateStatement(schema, first, columns, keptRows(run));
  // One statement cannot update a row twice: of the same key, keep what one-by-one writes would
  // leave, the highest source LSN (the later of equals).
  const byKey = new Map<string, SourcedOperation>();
  for (const sourced of run) {
    const key = keyOf(sourced.operation as Extract<RowOperation, { op: 'upsert' }>);
    const kept = byKey.get(key);
    if (kept && kept.lsn > sourced.lsn) continue;
    byKey.delete(key);
    byKey.set(key, sourced);
  }
  const table = qualified(schema, first.table);
  const list = columns.map(ident).join(', ');
  const conflict = conflictAction(first, columns);
  const rows: string[] = [];
  for (const { operation, sourceKey, lsn } of byKey.values())
    rows.push(rowJson((operation as Extract<RowOperation, { op: 'upsert' }>).row, sourceKey, lsn));
  const values: unknown[] = [`[${rows.join(',')}]`];
  const condition = first.when ? ` WHERE ${conditionClause(schema, first.when, values)}` : '';
  return {
    text: `INSERT INTO ${table} AS target (${list}) SELECT ${list} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)${condition} ON CONFLICT (${first.key.map(ident).join(', ')}) ${conflict}`,
    values,
  };
}

/** The rows of a run with unavailable values, the newest per key, without those values. */
function keptRows(run: SourcedOperation[]): Array<Record<string, unknown>> {
  const byKey = new Map<string, Record<string, unknown>>();
  for (const { operation, sourceKey, lsn } of run) {
    const upsert = operation as Extract<RowOperation, { op: 'upsert' }>;
    const key = keyOf(upsert);
    const kept = byKey.get(key);
    if (kept && (kept._source_lsn as number) > Number(lsn)) continue;
    byKey.delete(key);
    const written = Object.fromEntries(writtenColumns(upsert.row).map((column) => [column, upsert.row[column]]));
    byKey.set(key, { ...written, _source_key: sourceKey, _source_lsn: Number(lsn) });
  }
  return [...byKey.values()];
}

/**
 * Rows that carry the unchanged-TOAST placeholder exist already (PostgreSQL omits a value only when
 * updating a stored row), so they are written with an UPDATE of the columns they do carry: an INSERT
 * would check NOT NULL on the omitted columns before finding the existing row.
 */
function partialUpdateStatement(
  schema: string,
  first: Extract<RowOperation, { op: 'upsert' }>,
  columns: string[],
  rows: Array<Record<string, unknown>>,
): SqlStatement {
  const table = qualified(schema, first.table);
  const sets = columns
    .filter((column) => !first.key.includes(column))
    .map((column) => `${ident(column)} = source.${ident(column)}`);
  const joins = first.key.map((column) => `target.${ident(column)} = source.${ident(column)}`);
  const guard = first.version
    ? `(target.${ident(first.version)}, target._source_lsn) <= (source.${ident(first.version)}, source._source_lsn)`
    : 'target._source_lsn <= source._source_lsn';
  const values: unknown[] = [JSON.stringify(rows)];
  const condition = first.when ? ` AND ${conditionClause(schema, first.when, values)}` : '';
  return {
    text: `UPDATE ${table} AS target SET ${sets.join(', ')} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb) AS source WHERE ${joins.join(' AND ')} AND ${guard}${condition}`,
    values,
    requires: {
      text: `SELECT ${first.key.map((column) => `source.${ident(column)}`).join(', ')} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb) AS source WHERE NOT EXISTS (SELECT 1 FROM ${table} AS target WHERE ${joins.join(' AND ')}) LIMIT 5`,
      values: [values[0]],
      reason: `an update without its unchanged TOASTed columns (${unavailableColumns(first.row).join(', ')}) for a row the table does not hold, so those values are unknown (was its insert quarantined?)`,
      table: `${schema}.${first.table}`,
    },
  };
}

function unavailableColumns(row: Record<string, unknown>): string[] {
  return Object.keys(row).filter((column) => row[column] === UNAVAILABLE_VALUE);
}

/** A statement's precondition failed: a data error (SQLSTATE class 23), so the event goes to quarantine. */
export class MissingRowError extends Error {
  readonly code = '23502';
  constructor(
    message: string,
    readonly table: string,
  ) {
    super(message);
  }
}

function matchClause(match: Record<string, unknown>, values: unknown[]): string[] {
  return Object.entries(match).map(([column, value]) => {
    values.push(value);
    return `${ident(column)} = $${values.length}`;
  });
}

function deleteStatement(schema: string, { operation, lsn }: SourcedOperation): SqlStatement {
  const del = operation as Extract<RowOperation, { op: 'delete' }>;
  const values: unknown[] = [];
  const conditions = matchClause(del.match, values);
  conditions.push(deleteGuard(del.version, lsn, values));
  if (del.when) conditions.push(conditionClause(schema, del.when, values));
  return { text: `DELETE FROM ${qualified(schema, del.table)} WHERE ${conditions.join(' AND ')}`, values };
}

function deleteExceptStatement(schema: string, { operation, lsn }: SourcedOperation): SqlStatement {
  const del = operation as Extract<RowOperation, { op: 'deleteExcept' }>;
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
    const map = operation as Extract<RowOperation, { op: 'mapId' }>;
    const key = `${map.entity}\u0000${map.sourceId}`;
    if (((rows.get(key)?.source_lsn as number | undefined) ?? -1) > Number(lsn)) continue;
    rows.set(key, {
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

/** The projection's id mappings are gone (a projection reset). */
export async function forgetIdMap(db: Pool | ClientBase, projection: string): Promise<void> {
  await db.query('DELETE FROM tandem.id_map WHERE projection = $1', [projection]);
}

export async function executeStatements(client: ClientBase, statements: SqlStatement[]): Promise<void> {
  for (const statement of statements) {
    if (statement.requires) {
      const { rows } = await client.query(preparedQuery(client, statement.requires.text, statement.requires.values));
      if (rows.length > 0) {
        const keys = rows.map((row: Record<string, unknown>) => JSON.stringify(row)).join(', ');
        throw new MissingRowError(`${statement.requires.reason}; key ${keys}`, statement.requires.table);
      }
    }
    await client.query(preparedQuery(client, statement.text, statement.values));
  }
}
