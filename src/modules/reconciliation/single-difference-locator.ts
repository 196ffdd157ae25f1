import { diffRows, type BucketSummary, type Difference, type LevelComparison, type RowDigest } from './bucket-comparison';

/**
 * Locates, inside the first scan, the row of a bucket that differs by exactly one row. Each side adds
 * two sums per bucket: Σw and Σw·s, where w is a small weight taken from the row hash (1..16384) and s
 * the row's locator (its key text's first 6 bytes, a key range of about one row; key-locator.ts). A
 * bucket whose only difference is one missing, extra or changed row has ΔΣw·s ÷ ΔΣw = that row's s.
 * The rows at s are then read by key range on both sides, and the bucket is settled only if they
 * account for its whole difference in count and hash sum (the same evidence an equal bucket summary
 * gives); a bucket with two or more differences fails that check and goes to the bucket scan.
 */

/** The locator of a bucket's one differing row: first-level bucket id and s (decimal). */
export interface KeyLocation {
  bucket: string;
  locator: string;
}

/** A row read at a location, with its bucket, its locator and its row hash as summed in the summary. */
export interface LocatedRow extends RowDigest {
  key: string;
  bucket: string;
  locator: string;
  summand: string;
}

/** Locators are 48-bit numbers; w·s stays below 2^62. */
const LOCATOR_LIMIT = 1n << 48n;

/** Where a bucket's single difference lies, or null when the sums do not point at one. */
export function singleDifferenceAt(a: BucketSummary | undefined, b: BucketSummary | undefined): string | null {
  if ((a && a.weight === undefined) || (b && b.weight === undefined)) return null;
  const countDelta = (a?.count ?? 0) - (b?.count ?? 0);
  if (Math.abs(countDelta) > 1) return null;
  const weightDelta = BigInt(a?.weight ?? 0) - BigInt(b?.weight ?? 0);
  if (weightDelta === 0n) return null;
  const weightedDelta = BigInt(a?.weighted ?? 0) - BigInt(b?.weighted ?? 0);
  if (weightedDelta % weightDelta !== 0n) return null;
  const locator = weightedDelta / weightDelta;
  return locator >= 0n && locator < LOCATOR_LIMIT ? locator.toString() : null;
}

export interface Located {
  matched: number;
  differences: Difference[];
  rowsFetched: number;
  /** Buckets settled by their located rows. */
  buckets: number;
  /** The differing buckets left to the bucket scan. */
  rest: LevelComparison['differing'];
}

export async function locateSingleDifferences(
  readAt: (at: KeyLocation[]) => Promise<[LocatedRow[], LocatedRow[]]>,
  source: Map<string, BucketSummary>,
  target: Map<string, BucketSummary>,
  differing: LevelComparison['differing'],
): Promise<Located> {
  const located: Located = { matched: 0, differences: [], rowsFetched: 0, buckets: 0, rest: [] };
  const at = new Map<string, KeyLocation>();
  for (const d of differing) {
    const locator = singleDifferenceAt(source.get(d.id), target.get(d.id));
    if (locator === null) located.rest.push(d);
    else at.set(d.id, { bucket: d.id, locator });
  }
  if (at.size === 0) return located;
  const [rowsA, rowsB] = await readAt([...at.values()]);
  located.rowsFetched = rowsA.length + rowsB.length;
  const [byBucketA, byBucketB] = [rowsA, rowsB].map((rows) => {
    const byBucket = new Map<string, LocatedRow[]>();
    for (const row of rows)
      if (at.get(row.bucket)?.locator === row.locator) byBucket.set(row.bucket, [...(byBucket.get(row.bucket) ?? []), row]);
    return byBucket;
  });
  for (const d of differing) {
    if (!at.has(d.id)) continue;
    const [a, b] = [byBucketA.get(d.id) ?? [], byBucketB.get(d.id) ?? []];
    const [summaryA, summaryB] = [source.get(d.id), target.get(d.id)];
    const restA = remainder(summaryA, a);
    const restB = remainder(summaryB, b);
    const [digestsA, digestsB] = [digests(a), digests(b)];
    // The rest of the bucket must be equal on both sides, by the same count and hash sum an equal summary shows.
    if (restA.count !== restB.count || restA.hash !== restB.hash || digestsA.size !== a.length || digestsB.size !== b.length) {
      located.rest.push(d);
      continue;
    }
    const diff = diffRows(digestsA, digestsB);
    located.matched += restA.count + diff.matched;
    located.differences.push(...diff.differences);
    located.buckets++;
  }
  return located;
}

function remainder(summary: BucketSummary | undefined, rows: LocatedRow[]): { count: number; hash: bigint } {
  const read = rows.reduce((sum, row) => sum + BigInt(row.summand), 0n);
  return { count: (summary?.count ?? 0) - rows.length, hash: BigInt(summary?.hash ?? 0) - read };
}

function digests(rows: LocatedRow[]): Map<string, RowDigest> {
  return new Map(rows.map((row) => [row.key, { hash: row.hash, values: row.values }]));
}
