import { ident, qualified, type SqlStatement } from './sql';
import type { SourcedOperation } from './row-writer';
import { keyOf } from './operation-signature';
import type { RowOperation, WriteCondition } from '../../contracts/row-operation';

/**
 * Statements that write a run of operations whose values differ row by row, also in their guard
 * and precondition: each operation becomes one element of a JSON array parameter, typed back into
 * the table's row type with jsonb_populate_record, so the statement stays one round trip whatever
 * the run's length. They give the same result as running the operations one by one.
 */

type Upsert = Extract<RowOperation, { op: 'upsert' }>;
type Delete = Extract<RowOperation, { op: 'delete' | 'deleteExcept' }>;

/**
 * A row as JSON with its _source_key and _source_lsn, without copying it: the same text as
 * JSON.stringify({ ...row, _source_key, _source_lsn }) gives to jsonb (a repeated key keeps its last value).
 */
export function rowJson(row: Record<string, unknown>, sourceKey: string, lsn: bigint): string {
  const own = JSON.stringify(row);
  const source = `"_source_key":${JSON.stringify(sourceKey)},"_source_lsn":${Number(lsn)}}`;
  return own.length <= 2 ? `{${source}` : `${own.slice(0, -1)},${source}`;
}

/** `EXISTS (…)` matching the precondition table against the typed record `w` of each element. */
function perRowCondition(schema: string, when: WriteCondition): string {
  const matches = Object.keys(when.match).map((column) => `c.${ident(column)} = w.${ident(column)}`);
  return `EXISTS (SELECT 1 FROM ${qualified(schema, when.table)} c WHERE ${matches.length > 0 ? matches.join(' AND ') : 'true'})`;
}

function conditionJoin(schema: string, when: WriteCondition | undefined): string {
  return when
    ? ` CROSS JOIN LATERAL jsonb_populate_record(NULL::${qualified(schema, when.table)}, e.item->'when') AS w`
    : '';
}

/**
 * Upserts whose preconditions differ per row. Of the rows whose precondition holds, each key keeps
 * the one applied last one by one would leave: the greatest (version, source LSN), then the latest.
 * The rows travel in groups of one event's consecutive rows (the same precondition, source key and
 * LSN, no key twice), so that the precondition is typed and checked once per group, not per row.
 */
export function conditionalUpsertStatement(schema: string, run: SourcedOperation[]): SqlStatement {
  const first = run[0].operation as Upsert;
  const table = qualified(schema, first.table);
  const rowColumns = Object.keys(first.row);
  const columns = [...rowColumns, '_source_key', '_source_lsn'];
  const list = columns.map(ident).join(', ');
  const keys = first.key.map((column) => `s.${ident(column)}`).join(', ');
  const newest = [
    ...(first.version ? [`s.${ident(first.version)} DESC NULLS LAST`] : []),
    's._source_lsn DESC',
    's._tandem_n DESC',
  ];
  const conflict = conflictAction(first, columns);
  const selected = [
    ...rowColumns.filter((column) => column !== '_source_key' && column !== '_source_lsn').map((column) => `x.${ident(column)}`),
    `e.item->>'k' AS _source_key`,
    `(e.item->>'l')::bigint AS _source_lsn`,
    'e.n AS _tandem_n',
  ];
  return {
    text:
      `INSERT INTO ${table} AS target (${list}) SELECT ${list} FROM (` +
      `SELECT DISTINCT ON (${keys}) s.* FROM (SELECT ${selected.join(', ')} FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(item, n)` +
      `${conditionJoin(schema, first.when)} CROSS JOIN LATERAL jsonb_populate_recordset(NULL::${table}, e.item->'rows') AS x` +
      `${first.when ? ` WHERE ${perRowCondition(schema, first.when)}` : ''}) AS s ORDER BY ${keys}, ${newest.join(', ')}` +
      `) AS r ON CONFLICT (${first.key.map(ident).join(', ')}) ${conflict}`,
    values: [`[${upsertGroups(run).join(',')}]`],
  };
}

/** The run's rows as JSON groups {when, k: source key, l: LSN, rows}, in order (see conditionalUpsertStatement). */
function upsertGroups(run: SourcedOperation[]): string[] {
  const groups: string[] = [];
  let rows: string[] = [];
  let keys = new Set<string>();
  let open: SourcedOperation | null = null;
  const close = () => {
    if (!open) return;
    const upsert = open.operation as Upsert;
    groups.push(
      `{"when":${JSON.stringify(upsert.when?.match ?? null)},"k":${JSON.stringify(open.sourceKey)},"l":${Number(open.lsn)},"rows":[${rows.join(',')}]}`,
    );
    [rows, keys, open] = [[], new Set(), null];
  };
  for (const sourced of run) {
    const upsert = sourced.operation as Upsert;
    const key = keyOf(upsert);
    const sameGroup =
      open !== null &&
      (open.operation as Upsert).when === upsert.when &&
      open.sourceKey === sourced.sourceKey &&
      open.lsn === sourced.lsn &&
      !keys.has(key);
    if (!sameGroup) close();
    open ??= sourced;
    keys.add(key);
    rows.push(JSON.stringify(upsert.row));
  }
  close();
  return groups;
}

/** `DO UPDATE SET … WHERE <guard>` of an upsert: the guard by source LSN, or by (version, LSN). */
export function conflictAction(first: Upsert, columns: string[]): string {
  const updates = columns
    .filter((column) => !first.key.includes(column))
    .map((column) => `${ident(column)} = EXCLUDED.${ident(column)}`);
  const guard = first.version
    ? `(target.${ident(first.version)}, target._source_lsn) <= (EXCLUDED.${ident(first.version)}, EXCLUDED._source_lsn)`
    : 'target._source_lsn <= EXCLUDED._source_lsn';
  return updates.length === 0 ? 'DO NOTHING' : `DO UPDATE SET ${updates.join(', ')} WHERE ${guard}`;
}

/**
 * Deletes (or deleteExcepts) of one table with the same match columns: a row goes when any
 * element matches it, as it would after running them one by one (deletes commute).
 */
export function batchedDeleteStatement(schema: string, run: SourcedOperation[]): SqlStatement {
  const first = run[0].operation as Delete;
  const table = qualified(schema, first.table);
  const matchColumns = Object.keys(first.match);
  const items = run.map(({ operation, lsn }) => {
    const del = operation as Delete;
    return {
      match: del.match,
      lsn: Number(lsn),
      bound: del.version ? { [del.version.column]: del.version.value } : null,
      keep: del.op === 'deleteExcept' ? del.keep.map((value) => ({ [del.column]: value })) : null,
      when: del.when?.match ?? null,
    };
  });
  const selected = [
    ...matchColumns.map((column, i) => `m.${ident(column)} AS m${i}`),
    `(e.item->>'lsn')::bigint AS lsn`,
    `e.item->'keep' AS keep`,
    ...(first.version ? [`b.${ident(first.version.column)} AS bound`] : []),
  ];
  const joins =
    ` CROSS JOIN LATERAL jsonb_populate_record(NULL::${table}, e.item->'match') AS m` +
    (first.version ? ` CROSS JOIN LATERAL jsonb_populate_record(NULL::${table}, e.item->'bound') AS b` : '') +
    conditionJoin(schema, first.when);
  const conditions = matchColumns.map((column, i) => `target.${ident(column)} = s.m${i}`);
  conditions.push(
    first.version
      ? `(target.${ident(first.version.column)}, target._source_lsn) <= (s.bound, s.lsn)`
      : 'target._source_lsn <= s.lsn',
  );
  if (first.op === 'deleteExcept') {
    const column = ident(first.column);
    conditions.push(
      `NOT EXISTS (SELECT 1 FROM jsonb_populate_recordset(NULL::${table}, s.keep) AS k WHERE k.${column} = target.${column})`,
    );
  }
  return {
    text:
      `DELETE FROM ${table} AS target USING (SELECT ${selected.join(', ')} FROM jsonb_array_elements($1::jsonb) AS e(item)${joins}` +
      `${first.when ? ` WHERE ${perRowCondition(schema, first.when)}` : ''}) AS s WHERE ${conditions.join(' AND ')}`,
    values: [JSON.stringify(items)],
  };
}
