import type { RowOperation, WriteCondition } from '../../contracts/row-operation';
import { UNAVAILABLE_VALUE } from '../../contracts/envelope';

/** Separates the parts of a signature: PostgreSQL identifiers cannot hold NUL. */
const SEP = '\u0000';
/** A list of names, counted so that where it ends is never ambiguous. */
const list = (names: string[]) => `${names.length}${SEP}${names.join(SEP)}`;

/**
 * Operations with the same signature can share one statement: same kind, table, key or match
 * columns, guard and precondition shape (the values may differ). Computed once per operation
 * (see signatureOf): a batch has one per target row.
 */
export function operationSignature(operation: RowOperation): string {
  switch (operation.op) {
    case 'mapId':
      return 'mapId';
    case 'upsert':
      return upsertSignature(operation);
    case 'delete':
      return ['delete', operation.table, list(Object.keys(operation.match)), operation.version ? `1${SEP}${operation.version.column}` : '0', whenShape(operation.when)].join(SEP);
    case 'deleteExcept':
      return [
        'deleteExcept',
        operation.table,
        list(Object.keys(operation.match)),
        operation.column,
        operation.version ? `1${SEP}${operation.version.column}` : '0',
        whenShape(operation.when),
      ].join(SEP);
  }
}

/** The signature of an operation, kept on it after the first call. */
export function signatureOf(sourced: { operation: RowOperation; signature?: string }): string {
  return (sourced.signature ??= operationSignature(sourced.operation));
}

function whenShape(when: WriteCondition | undefined): string {
  return when ? `1${SEP}${when.table}${SEP}${list(Object.keys(when.match))}` : '0';
}

export function writtenColumns(row: Record<string, unknown>): string[] {
  return Object.keys(row).filter((column) => row[column] !== UNAVAILABLE_VALUE);
}

export function hasUnavailableValues(row: Record<string, unknown>): boolean {
  for (const column in row) if (row[column] === UNAVAILABLE_VALUE) return true;
  return false;
}

function upsertSignature(operation: Extract<RowOperation, { op: 'upsert' }>): string {
  const columns: string[] = [];
  let unavailable = false;
  for (const column of Object.keys(operation.row)) {
    if (operation.row[column] === UNAVAILABLE_VALUE) unavailable = true;
    else columns.push(column);
  }
  // With unavailable values the statement is an UPDATE whose precondition values are in its text.
  const when = unavailable ? JSON.stringify(operation.when ?? null) : whenShape(operation.when);
  return ['upsert', operation.table, list(operation.key), list(columns), unavailable ? 'partial' : '', operation.version === undefined ? '0' : `1${SEP}${operation.version}`, when].join(SEP);
}

/** The key values of an upsert's row, as one string that tells apart values of different JSON types. */
export function keyOf(upsert: Extract<RowOperation, { op: 'upsert' }>): string {
  if (upsert.key.length !== 1) return JSON.stringify(upsert.key.map((column) => upsert.row[column]));
  const value = upsert.row[upsert.key[0]];
  return typeof value === 'string' ? `s${value}` : JSON.stringify([value]);
}
