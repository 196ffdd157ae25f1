import type { ClientBase } from 'pg';
import { ident, qualified, type SqlStatement } from './sql';

const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

/** A row operation (see projections/framework/define-projection.ts) with the source event it came from. */
export type WriteOperation =
  | { op: 'upsert'; table: string; key: string[]; row: Record<string, unknown> }
  | { op: 'delete'; table: string; match: Record<string, unknown> }
  | { op: 'deleteExcept'; table: string; match: Record<string, unknown>; column: string; keep: unknown[] }
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

function upsertSignature(operation: Extract<WriteOperation, { op: 'upsert' }>): string {
  return JSON.stringify([operation.table, operation.key, writtenColumns(operation.row)]);
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
    byKey.set(key, { ...upsert.row, _source_key: sourceKey, _source_lsn: Number(lsn) });
  }
  const table = qualified(schema, first.table);
  const list = columns.map(ident).join(', ');
  const updates = columns.filter((column) => !first.key.includes(column)).map((column) => `${ident(column)} = EXCLUDED.${ident(column)}`);
  const conflict =
    updates.length === 0
      ? 'DO NOTHING'
      : `DO UPDATE SET ${updates.join(', ')} WHERE target._source_lsn <= EXCLUDED._source_lsn`;
  return {
    text: `INSERT INTO ${table} AS target (${list}) SELECT ${list} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb) ON CONFLICT (${first.key.map(ident).join(', ')}) ${conflict}`,
    values: [JSON.stringify([...byKey.values()])],
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
  values.push(Number(lsn));
  conditions.push(`_source_lsn <= $${values.length}`);
  return { text: `DELETE FROM ${qualified(schema, del.table)} WHERE ${conditions.join(' AND ')}`, values };
}

function deleteExceptStatement(schema: string, { operation, lsn }: SourcedOperation): SqlStatement {
  const del = operation as Extract<WriteOperation, { op: 'deleteExcept' }>;
  const values: unknown[] = [];
  const conditions = matchClause(del.match, values);
  values.push(del.keep);
  conditions.push(`NOT (${ident(del.column)} = ANY($${values.length}))`);
  values.push(Number(lsn));
  conditions.push(`_source_lsn <= $${values.length}`);
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
