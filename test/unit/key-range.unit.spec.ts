import { compareKeys, rangeContains, rangesFromBounds } from '../../src/connectors/postgres-source/key-range';
import { deserializeState, pruneSnapshot, serializeState, type CaptureState } from '../../src/modules/capture/capture-state';

describe('snapshot key ranges', () => {
  it('orders integer, uuid and C-collated text keys as PostgreSQL does', () => {
    expect(compareKeys(['integer'], ['9'], ['10'])).toBeLessThan(0);
    expect(compareKeys(['integer'], ['-9223372036854775808'], ['9223372036854775807'])).toBeLessThan(0);
    expect(compareKeys(['text'], ['Z'], ['a'])).toBeLessThan(0); // byte order, as COLLATE "C"
    expect(compareKeys(['uuid'], ['0A000000-0000-0000-0000-000000000000'], ['09ffffff-ffff-ffff-ffff-ffffffffffff'])).toBeGreaterThan(0);
    expect(compareKeys(['integer', 'text'], ['1', 'b'], ['1', 'a'])).toBeGreaterThan(0);
  });

  it('builds (lower, upper] ranges that cover every key exactly once', () => {
    const ranges = rangesFromBounds([['100'], ['200']]);
    expect(ranges).toEqual([
      { lower: null, upper: ['100'] },
      { lower: ['100'], upper: ['200'] },
      { lower: ['200'], upper: null },
    ]);
    for (const key of ['-5', '100', '101', '200', '201']) {
      expect(ranges.filter((range) => rangeContains(['integer'], range, [key]))).toHaveLength(1);
    }
  });
});

describe('capture state', () => {
  const state: CaptureState = {
    slot: 's',
    stream: { lastCommitLsn: 0x20n, partial: { finalLsn: 0x30n, emitted: 7 }, ackLsn: 0x28n },
    backfills: [],
    capturedTables: ['public.a'],
    snapshot: {
      status: 'done',
      consistentLsn: 0x10n,
      tables: {
        'public.a': {
          keyColumns: ['id'],
          keyKinds: ['integer'],
          chunks: [
            { lower: null, upper: ['5'], doneAtLsn: 0x10n },
            { lower: ['5'], upper: null, doneAtLsn: 0x40n },
          ],
        },
      },
    },
  };

  it('round-trips through its stored JSON form', () => {
    expect(deserializeState(serializeState(state))).toEqual(state);
  });

  it('keeps only resumed chunks that streaming has not passed yet', () => {
    expect(pruneSnapshot(state).snapshot!.tables['public.a'].chunks).toEqual([{ lower: ['5'], upper: null, doneAtLsn: 0x40n }]);
    const passed = pruneSnapshot({ ...state, stream: { ...state.stream, lastCommitLsn: 0x50n } });
    expect(passed.snapshot!.tables).toEqual({});
  });
});
