import { createHash } from 'crypto';
import { bisect, type ComparisonReader, type KeyRange, type RowDigest } from '../../src/modules/reconciliation/bisection';

/** An in-memory side: rows by key, compared in byte order like COLLATE "C". */
function memorySide(rows: Map<string, Record<string, string>>): ComparisonReader & { summaries: number } {
  const sorted = [...rows.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const keys = () => sorted;
  const within = (range: KeyRange) =>
    keys().filter((k) => (range.lower === null || Buffer.compare(Buffer.from(k), Buffer.from(range.lower)) > 0) && (range.upper === null || Buffer.compare(Buffer.from(k), Buffer.from(range.upper)) <= 0));
  const digest = (key: string): RowDigest => {
    const values = rows.get(key)!;
    return { hash: createHash('md5').update(key + JSON.stringify(values)).digest('hex'), values };
  };
  const cached = new Map<string, RowDigest>();
  const digestOf = (key: string) => {
    if (!cached.has(key)) cached.set(key, digest(key));
    return cached.get(key)!;
  };
  const side = {
    summaries: 0,
    async summarize(range: KeyRange) {
      side.summaries++;
      const inRange = within(range);
      let sum = 0n;
      for (const key of inRange) sum += BigInt(`0x${digestOf(key).hash.slice(0, 15)}`);
      return { count: inRange.length, hash: sum.toString() };
    },
    async split(range: KeyRange, parts: number) {
      const inRange = within(range);
      const size = Math.ceil(inRange.length / parts);
      const ranges: KeyRange[] = [];
      let lower = range.lower;
      for (let i = size - 1; i < inRange.length - 1; i += size) {
        ranges.push({ lower, upper: inRange[i] });
        lower = inRange[i];
      }
      ranges.push({ lower, upper: range.upper });
      return ranges;
    },
    async rows(range: KeyRange) {
      return new Map(within(range).map((key) => [key, digest(key)]));
    },
    async rowsByKey(wanted: string[]) {
      return new Map(wanted.filter((k) => rows.has(k)).map((key) => [key, digest(key)]));
    },
  };
  return side;
}

describe('bisection', () => {
  const base = () => new Map(Array.from({ length: 5000 }, (_, i) => [`k${String(i).padStart(6, '0')}`, { name: `n${i}`, score: String(i % 7) }]));

  it('proves equal sides equal with one summary each', async () => {
    const source = memorySide(base());
    const target = memorySide(base());
    const result = await bisect(source, target, { leafRows: 100, fanOut: 16 });
    expect(result).toMatchObject({ sourceCount: 5000, targetCount: 5000, matched: 5000, differences: [], rangesCompared: 1, rowsFetched: 0 });
  });

  it('finds and names a changed column, a deleted row and an extra row, fetching few rows', async () => {
    const targetRows = base();
    targetRows.set('k000123', { name: 'changed', score: '4' });
    targetRows.delete('k004000');
    targetRows.set('k999999x', { name: 'extra', score: '0' });
    const result = await bisect(memorySide(base()), memorySide(targetRows), { leafRows: 100, fanOut: 16 });
    expect(result.differences).toEqual(
      expect.arrayContaining([
        { key: 'k000123', kind: 'mismatched', columns: { name: ['n123', 'changed'] } },
        { key: 'k004000', kind: 'missing' },
        { key: 'k999999x', kind: 'extra' },
      ]),
    );
    expect(result.differences).toHaveLength(3);
    expect(result.matched).toBe(4998);
    expect(result.rowsFetched).toBeLessThan(1000);
  });
});
