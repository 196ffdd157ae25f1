import { changedKeysAreCheaper } from '../../src/modules/reconciliation/incremental-verify';

describe('the cutover verification chooses the cheaper comparison', () => {
  it('compares only the changed keys when they are few against the rows of the last clean reconciliation', () => {
    expect(changedKeysAreCheaper(5, 2_000)).toBe(true);
    expect(changedKeysAreCheaper(90_000, 1_000_000)).toBe(true);
  });

  it('compares every row when the changes are many for the table (thousands of changes to a 22,000-row table)', () => {
    expect(changedKeysAreCheaper(3_800, 22_000)).toBe(false);
    expect(changedKeysAreCheaper(1, 0)).toBe(false);
  });

  it('has nothing to compare by key when nothing changed', () => {
    expect(changedKeysAreCheaper(0, 0)).toBe(true);
  });
});
