import { createHash } from 'crypto';
import {
  KEY_HASH_BITS,
  compareByBuckets,
  nextLevelBits,
  type BucketOptions,
  type BucketScope,
  type BucketSummary,
  type ComparisonReader,
  type RowDigest,
} from '../../src/modules/reconciliation/bucket-comparison';

const md5 = (text: string) => createHash('md5').update(text).digest('hex');
/** What sql-reader.ts computes in PostgreSQL: the first 15 hex digits of md5 as a 60-bit integer. */
const bits60 = (hex: string) => BigInt(`0x${hex.slice(0, 15)}`);

/** An in-memory side that counts its scans and the rows it hands out. */
function memorySide(rows: Map<string, Record<string, string>>): ComparisonReader & { scans: number } {
  const digests = new Map<string, RowDigest & { keyHash: bigint }>();
  for (const [key, values] of rows)
    digests.set(key, { hash: md5(key + JSON.stringify(values)), values, keyHash: bits60(md5(key)) });
  const bucket = (keyHash: bigint, bits: number) => (keyHash >> BigInt(KEY_HASH_BITS - bits)).toString();
  const inScope = (scope: BucketScope) => {
    const ids = scope.ids === null ? null : new Set(scope.ids);
    return [...digests.entries()].filter(([, d]) => ids === null || ids.has(bucket(d.keyHash, scope.bits)));
  };
  const side = {
    scans: 0,
    async summarize(scope: BucketScope, bits: number) {
      side.scans++;
      const sums = new Map<string, { count: number; sum: bigint }>();
      for (const [, d] of inScope(scope)) {
        const id = bucket(d.keyHash, bits);
        const entry = sums.get(id) ?? { count: 0, sum: 0n };
        entry.count++;
        entry.sum += bits60(d.hash);
        sums.set(id, entry);
      }
      return new Map<string, BucketSummary>(
        [...sums].map(([id, { count, sum }]) => [id, { count, hash: sum.toString() }]),
      );
    },
    async rows(scope: BucketScope) {
      side.scans++;
      return new Map(inScope(scope).map(([key, { hash, values }]) => [key, { hash, values }]));
    },
    async rowsByKey(keys: string[]) {
      return new Map(
        keys
          .filter((k) => digests.has(k))
          .map((k) => [k, { hash: digests.get(k)!.hash, values: digests.get(k)!.values }]),
      );
    },
  };
  return side;
}

const table = (n: number) =>
  new Map(Array.from({ length: n }, (_, i) => [`k${i}`, { name: `n${i}`, score: String(i % 7) }]));

describe('comparison by key-hash buckets', () => {
  const small: BucketOptions = { firstBits: 6, fetchRows: 300, leafRows: 8, maxBuckets: 4096 };

  it('proves equal sides equal with one aggregate scan per side and fetches no row', async () => {
    const source = memorySide(table(20_000));
    const target = memorySide(table(20_000));
    const result = await compareByBuckets(source, target, small);
    expect(result).toMatchObject({
      sourceCount: 20_000,
      targetCount: 20_000,
      matched: 20_000,
      differences: [],
      scans: 1,
      rowsFetched: 0,
    });
    expect(result.bucketsCompared).toBe(64);
    expect([source.scans, target.scans]).toEqual([1, 1]);
  });

  it('finds scattered changed, deleted and extra rows exactly in a constant number of scans, fetching few rows', async () => {
    const targetRows = table(20_000);
    const expected = [];
    for (let i = 0; i < 30; i++) {
      const key = `k${i * 661 + 17}`;
      if (i % 3 === 0) {
        targetRows.set(key, { ...targetRows.get(key)!, name: `changed${i}` });
        expected.push({ key, kind: 'mismatched', columns: { name: [`n${i * 661 + 17}`, `changed${i}`] } });
      } else if (i % 3 === 1) {
        targetRows.delete(key);
        expected.push({ key, kind: 'missing' });
      } else {
        targetRows.set(`extra${i}`, { name: 'ghost', score: '0' });
        expected.push({ key: `extra${i}`, kind: 'extra' });
      }
    }
    const source = memorySide(table(20_000));
    const target = memorySide(targetRows);
    const result = await compareByBuckets(source, target, small);
    expect(result.differences).toHaveLength(30);
    expect(result.differences).toEqual(expect.arrayContaining(expected));
    expect(result).toMatchObject({ sourceCount: 20_000, targetCount: 20_000, matched: 20_000 - 20 });
    // first level (64 buckets of ~310 rows: too many to fetch), one refinement, then the rows
    expect(result.scans).toBe(3);
    expect(result.rowsFetched).toBeLessThan(30 * 2 * small.leafRows * 2);
  });

  it('reports every row of a side that is empty as missing', async () => {
    const result = await compareByBuckets(memorySide(table(500)), memorySide(new Map()), small);
    expect(result).toMatchObject({ sourceCount: 500, targetCount: 0, matched: 0 });
    expect(result.differences).toHaveLength(500);
    expect(result.differences.every((d) => d.kind === 'missing')).toBe(true);
  });

  it('fetches the differing buckets right after the first level when they hold at most fetchRows rows', async () => {
    const targetRows = table(20_000);
    for (let i = 0; i < 30; i++) targetRows.set(`k${i * 661 + 17}`, { name: `changed${i}`, score: '0' });
    const result = await compareByBuckets(memorySide(table(20_000)), memorySide(targetRows), { ...small, fetchRows: 12_000 });
    expect(result.differences).toHaveLength(30);
    expect(result.differences.every((d) => d.kind === 'mismatched')).toBe(true);
    // 30 of 64 buckets of ~310 rows: ~9,000 rows, fetched without a refinement scan
    expect(result.scans).toBe(2);
  });

  describe('next level', () => {
    const options: BucketOptions = { firstBits: 10, fetchRows: 20_000, leafRows: 64, maxBuckets: 65_536 };
    const buckets = (n: number, rows: number) =>
      Array.from({ length: n }, (_, i) => ({ id: String(i), rows }));

    it('fetches rows when the differing buckets hold few rows in all', () => {
      expect(nextLevelBits(10, buckets(100, 200), options)).toBeNull();
    });

    it('splits large differing buckets into sub-buckets of about leafRows rows', () => {
      // 10M rows in 1,024 buckets: ~9,766 per bucket; 2^8 sub-buckets of ~38 rows
      expect(nextLevelBits(10, buckets(100, 9766), options)).toBe(18);
    });

    it('never summarizes more than maxBuckets sub-buckets, nor uses more bits than the hash has', () => {
      expect(nextLevelBits(10, buckets(1024, 100_000), options)).toBe(16);
      expect(nextLevelBits(58, buckets(2, 1_000_000), options)).toBe(KEY_HASH_BITS);
      expect(nextLevelBits(KEY_HASH_BITS, buckets(2, 1_000_000), options)).toBeNull();
    });

    it('fetches rows when the differing buckets are already small (differences everywhere)', () => {
      expect(nextLevelBits(16, buckets(65_536, 60), options)).toBeNull();
    });
  });
});
