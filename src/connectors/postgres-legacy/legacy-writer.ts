import type { ClientBase } from 'pg';
import type { LegacyRowOperation } from '../../contracts/row-operation';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';
import { ident, type SqlStatement } from '../postgres-target/sql';

/** A legacy row operation and the target commit LSN it carries. */
export interface GuardedOperation {
  operation: LegacyRowOperation;
  lsn: bigint;
}

/** "schema.table" → "schema"."table" (a legacy table name as an inverse gives it). */
function legacyTable(name: string): string {
  const dot = name.indexOf('.');
  return dot < 0 ? ident(name) : `${ident(name.slice(0, dot))}.${ident(name.slice(dot + 1))}`;
}

function keyColumns(operation: LegacyRowOperation): string[] {
  return operation.op === 'upsert' ? operation.key : Object.keys(operation.match);
}

function values(operation: LegacyRowOperation): Record<string, unknown> {
  const row = operation.op === 'upsert' ? operation.row : operation.match;
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== UNAVAILABLE_VALUE));
}

function signature(operation: LegacyRowOperation): string {
  return JSON.stringify([operation.op, operation.table, keyColumns(operation), Object.keys(values(operation)), operation.onlyWhere ?? null]);
}

/** `AND the stored row meets onlyWhere`, its columns resolved against the stored row alone. */
function storedRowCondition(table: string, onlyWhere: string | undefined): string {
  return onlyWhere ? ` AND EXISTS (SELECT 1 FROM ${table} AS kept WHERE kept.ctid = stored.ctid AND (${onlyWhere}))` : '';
}

/**
 * Plans the legacy writes of a batch: runs of operations of one shape become one statement. Each
 * statement first advances the rows' guard in tandem.failback_versions (only where the stored LSN
 * is not newer) and writes only the rows whose guard advanced, so a redelivered or older change
 * does nothing. An upsert writes only the columns it carries: the others keep their legacy values
 * (update) or take their defaults (insert); an unchanged-TOAST placeholder is left out likewise.
 */
export function planLegacyStatements(projection: string, operations: GuardedOperation[]): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let run: GuardedOperation[] = [];
  const flush = () => {
    if (run.length > 0) statements.push(runStatement(projection, run));
    run = [];
  };
  for (const guarded of operations) {
    if (run.length > 0 && signature(run[0].operation) !== signature(guarded.operation)) flush();
    run.push(guarded);
  }
  flush();
  return statements;
}

function runStatement(projection: string, run: GuardedOperation[]): SqlStatement {
  const first = run[0].operation;
  const key = keyColumns(first);
  // One statement cannot write a row twice: per key, keep the change one-by-one writes would leave.
  const byKey = new Map<string, { key: unknown[]; row: Record<string, unknown>; lsn: string }>();
  for (const { operation, lsn } of run) {
    const row = values(operation);
    const id = key.map((column) => row[column]);
    const kept = byKey.get(JSON.stringify(id));
    if (kept && BigInt(kept.lsn) > lsn) continue;
    byKey.set(JSON.stringify(id), { key: id, row, lsn: lsn.toString() });
  }
  const table = legacyTable(first.table);
  const input =
    `WITH input AS (SELECT e.item->'key' AS tandem_key, (e.item->>'lsn')::bigint AS tandem_lsn, r.*` +
    ` FROM jsonb_array_elements($1::jsonb) AS e(item) CROSS JOIN LATERAL jsonb_populate_record(NULL::${table}, e.item->'row') AS r),` +
    ` guard AS (INSERT INTO tandem.failback_versions AS v (projection, legacy_table, key, lsn)` +
    ` SELECT $2, $3, tandem_key, tandem_lsn FROM input ON CONFLICT (projection, legacy_table, key)` +
    ` DO UPDATE SET lsn = EXCLUDED.lsn WHERE v.lsn <= EXCLUDED.lsn RETURNING key)`;
  const params = [JSON.stringify([...byKey.values()]), projection, first.table];
  if (first.op === 'delete') {
    const match = key.map((column) => `stored.${ident(column)} = input.${ident(column)}`).join(' AND ');
    return {
      text: `${input} DELETE FROM ${table} AS stored USING input JOIN guard ON guard.key = input.tandem_key WHERE ${match}${storedRowCondition(table, first.onlyWhere)}`,
      values: params,
    };
  }
  const columns = Object.keys(values(first));
  const list = columns.map(ident).join(', ');
  const updates = columns.filter((column) => !key.includes(column)).map((column) => `${ident(column)} = EXCLUDED.${ident(column)}`);
  const condition = storedRowCondition(table, first.onlyWhere);
  const conflict = updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')}${condition ? ` WHERE true${condition}` : ''}`;
  return {
    text:
      `${input} INSERT INTO ${table} AS stored (${list}) SELECT ${columns.map((c) => `input.${ident(c)}`).join(', ')}` +
      ` FROM input JOIN guard ON guard.key = input.tandem_key ON CONFLICT (${key.map(ident).join(', ')}) ${conflict}`,
    values: params,
  };
}

export async function executeLegacyStatements(client: ClientBase, statements: SqlStatement[]): Promise<void> {
  for (const statement of statements) await client.query(statement.text, statement.values);
}
