/**
 * Finds the rows that differ between two sides without moving the data: each side summarizes a key
 * range as (count, hash); equal summaries prove the range equal, unequal ranges are split and
 * compared again, and only ranges small enough are fetched row by row.
 */
export interface KeyRange {
  /** Keys k with lower < k <= upper (text order under COLLATE "C"); null is open. */
  lower: string | null;
  upper: string | null;
}

export interface RangeSummary {
  count: number;
  hash: string;
}

export interface RowDigest {
  hash: string;
  values: Record<string, string | null>;
}

/** One database's view of a comparison. */
export interface ComparisonReader {
  summarize(range: KeyRange): Promise<RangeSummary>;
  /** Up to `parts` sub-ranges that cover `range`, split at this side's key quantiles. */
  split(range: KeyRange, parts: number): Promise<KeyRange[]>;
  rows(range: KeyRange): Promise<Map<string, RowDigest>>;
  /** The rows with these keys (for re-verification). */
  rowsByKey(keys: string[]): Promise<Map<string, RowDigest>>;
}

export interface Difference {
  key: string;
  kind: 'missing' | 'extra' | 'mismatched';
  /** Column -> [source, target], for mismatched rows. */
  columns?: Record<string, [string | null, string | null]>;
}

export interface BisectionResult {
  sourceCount: number;
  targetCount: number;
  matched: number;
  differences: Difference[];
  /** Ranges summarized, and rows fetched from each side: what moved across the wire. */
  rangesCompared: number;
  rowsFetched: number;
}

export interface BisectionOptions {
  /** Ranges with at most this many rows (on the larger side) are compared row by row. */
  leafRows: number;
  fanOut: number;
}

export function diffRows(source: Map<string, RowDigest>, target: Map<string, RowDigest>): { matched: number; differences: Difference[] } {
  const differences: Difference[] = [];
  let matched = 0;
  for (const [key, row] of source) {
    const other = target.get(key);
    if (!other) differences.push({ key, kind: 'missing' });
    else if (other.hash === row.hash) matched++;
    else {
      const columns: Record<string, [string | null, string | null]> = {};
      for (const column of Object.keys(row.values)) {
        if (row.values[column] !== other.values[column]) columns[column] = [row.values[column], other.values[column]];
      }
      differences.push({ key, kind: 'mismatched', columns });
    }
  }
  for (const key of target.keys()) if (!source.has(key)) differences.push({ key, kind: 'extra' });
  return { matched, differences };
}

export async function bisect(source: ComparisonReader, target: ComparisonReader, options: BisectionOptions): Promise<BisectionResult> {
  const result: BisectionResult = { sourceCount: 0, targetCount: 0, matched: 0, differences: [], rangesCompared: 0, rowsFetched: 0 };
  const visit = async (range: KeyRange, top: boolean): Promise<void> => {
    const [a, b] = await Promise.all([source.summarize(range), target.summarize(range)]);
    result.rangesCompared++;
    if (top) {
      result.sourceCount = a.count;
      result.targetCount = b.count;
    }
    if (a.count === b.count && a.hash === b.hash) {
      result.matched += a.count;
      return;
    }
    if (Math.max(a.count, b.count) <= options.leafRows) {
      const [rowsA, rowsB] = await Promise.all([source.rows(range), target.rows(range)]);
      result.rowsFetched += rowsA.size + rowsB.size;
      const diff = diffRows(rowsA, rowsB);
      result.matched += diff.matched;
      result.differences.push(...diff.differences);
      return;
    }
    const parts = await (a.count >= b.count ? source : target).split(range, options.fanOut);
    for (const part of parts) await visit(part, false);
  };
  await visit({ lower: null, upper: null }, true);
  return result;
}
