import type { ComparisonReader, Difference, RowDigest } from '../../src/modules/reconciliation/bucket-comparison';
import type { AppliedState, PositionProbe } from '../../src/modules/projection/applied-position';
import { settleDifferences } from '../../src/modules/reconciliation/settle-differences';

/** A side whose rows (`data`: key -> name) the test changes between reads; counts its reads by key. */
function side(data: Record<string, string>): ComparisonReader & { data: Record<string, string>; reads: number } {
  const reader = {
    data,
    reads: 0,
    summarize: () => Promise.reject(new Error('not used')),
    rows: () => Promise.reject(new Error('not used')),
    async rowsByKey(keys: string[]) {
      reader.reads++;
      const found = new Map<string, RowDigest>();
      for (const key of keys)
        if (key in reader.data) found.set(key, { hash: reader.data[key], values: { name: reader.data[key] } });
      return found;
    },
  };
  return reader;
}

/** A probe that reports the given states in turn (the last one from then on) and runs `onState` before each answer. */
function probe(states: AppliedState[], onState: (n: number) => void = () => undefined): PositionProbe & { asked: number } {
  const p = {
    asked: 0,
    mark: () => Promise.resolve('0/1'),
    state: () => {
      onState(p.asked);
      const state = states[Math.min(p.asked, states.length - 1)];
      p.asked++;
      return Promise.resolve({ state, detail: state });
    },
  };
  return p;
}

const options = { budgetMs: 10_000, pollMs: 1 };
const mismatch = (key: string): Difference => ({ key, kind: 'mismatched' });

describe('settling differences by position', () => {
  it('settles a real difference in one round when the projection already holds the position', async () => {
    const source = side({ a: 'Ann', b: 'Bob' });
    const target = side({ a: 'Ann', b: 'Robert' });
    const probed = probe(['applied']);
    const settled = await settleDifferences([mismatch('b')], source, target, probed, options);
    expect(settled).toMatchObject({ rounds: 1, state: 'applied' });
    expect(settled.open).toEqual([{ key: 'b', kind: 'mismatched', columns: { name: ['Bob', 'Robert'] } }]);
    expect(probed.asked).toBe(1); // no waiting: the position was asked once
  });

  it('waits while the projection is behind, and a difference that was a write in flight disappears', async () => {
    const source = side({ a: 'Ann', b: 'Bob' });
    const target = side({ a: 'Ann' }); // b is on its way
    const probed = probe(['pending', 'pending', 'applied'], (n) => {
      if (n === 2) target.data.b = 'Bob'; // the projector applies it
    });
    const settled = await settleDifferences([{ key: 'b', kind: 'missing' }], source, target, probed, options);
    expect(settled).toMatchObject({ open: [], rounds: 1, state: 'applied' });
  });

  it('reads again when the source row changed after it was read (the target may hold the newer version)', async () => {
    const source = side({ b: 'Bob' });
    const target = side({ b: 'Bob' });
    const probed = probe(['applied'], (n) => {
      if (n === 0) {
        source.data.b = 'Bobby'; // written after the source read…
        target.data.b = 'Bobby'; // …and already applied when the target is read
      }
    });
    const settled = await settleDifferences([mismatch('b')], source, target, probed, options);
    // round 1 saw Bob against Bobby, but the source had moved on: round 2 finds them equal
    expect(settled).toMatchObject({ open: [], rounds: 2 });
  });

  it('counts the differences that remain when the projection cannot catch up (stalled) or the budget runs out', async () => {
    const stalled = await settleDifferences(
      [{ key: 'b', kind: 'missing' }],
      side({ b: 'Bob' }),
      side({}),
      probe(['stalled']),
      options,
    );
    expect(stalled).toMatchObject({ open: [{ key: 'b', kind: 'missing' }], rounds: 1, state: 'stalled' });
    const late = await settleDifferences([{ key: 'b', kind: 'missing' }], side({ b: 'Bob' }), side({}), probe(['pending']), {
      budgetMs: 20,
      pollMs: 5,
    });
    expect(late).toMatchObject({ open: [{ key: 'b', kind: 'missing' }], rounds: 1, state: 'pending' });
  });

  it('reads nothing when there is nothing to settle', async () => {
    const source = side({});
    const settled = await settleDifferences([], source, side({}), probe(['applied']), options);
    expect(settled).toMatchObject({ open: [], rounds: 0 });
    expect(source.reads).toBe(0);
  });
});
