/**
 * Primary-key ranges for snapshot chunks. Keys are kept in PostgreSQL's text form; ordering is
 * reproduced in JavaScript for the key types where that is exact (integers, uuid, and text under
 * the "C" collation, which the snapshot queries use). A table with another key type is one chunk.
 */
export type KeyKind = 'integer' | 'uuid' | 'text';
export type KeyTuple = string[];

/** A chunk holds the keys k with lower < k <= upper; a null bound is open. */
export interface KeyRange {
  lower: KeyTuple | null;
  upper: KeyTuple | null;
}

export function keyKindOf(typeName: string): KeyKind | null {
  if (typeName === 'int2' || typeName === 'int4' || typeName === 'int8') return 'integer';
  if (typeName === 'uuid') return 'uuid';
  if (typeName === 'text' || typeName === 'varchar') return 'text';
  return null;
}

function compareValue(kind: KeyKind, a: string, b: string): number {
  if (kind === 'integer') {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (kind === 'uuid') return a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function compareKeys(kinds: KeyKind[], a: KeyTuple, b: KeyTuple): number {
  for (let i = 0; i < kinds.length; i++) {
    const order = compareValue(kinds[i], a[i], b[i]);
    if (order !== 0) return order;
  }
  return 0;
}

export function rangeContains(kinds: KeyKind[], range: KeyRange, key: KeyTuple): boolean {
  if (range.lower && compareKeys(kinds, key, range.lower) <= 0) return false;
  if (range.upper && compareKeys(kinds, key, range.upper) > 0) return false;
  return true;
}

/** Chunks (lower, upper] from sorted upper bounds; the last chunk is open above. */
export function rangesFromBounds(upperBounds: KeyTuple[]): KeyRange[] {
  const ranges: KeyRange[] = [];
  let lower: KeyTuple | null = null;
  for (const upper of upperBounds) {
    ranges.push({ lower, upper });
    lower = upper;
  }
  ranges.push({ lower, upper: null });
  return ranges;
}
