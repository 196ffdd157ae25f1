import { describeLag, lagging } from '../../src/modules/cutover/drain-gate';
import type { Checkpoint } from '../../src/connectors/postgres-target/checkpoint-store';

const checkpoints = (entries: Array<[string, number, bigint]>) =>
  new Map<string, Checkpoint>(entries.map(([topic, partition, offset]) => [`${topic}#${partition}`, { topic, partition, offset, commitLsn: 1n }]));

describe('cutover drained gate', () => {
  it('counts a partition as drained once its checkpoint reaches the last data offset (end − 2 behind a commit marker)', () => {
    const ends = [
      { topic: 't', partition: 0, low: 0n, end: 10n },
      { topic: 't', partition: 1, low: 0n, end: 10n },
      { topic: 't', partition: 2, low: 0n, end: 10n },
    ];
    expect(lagging(ends, checkpoints([['t', 0, 8n], ['t', 1, 9n], ['t', 2, 7n]]))).toEqual([{ topic: 't', partition: 2, end: 10n, applied: 7n }]);
  });

  it('ignores empty partitions and names a partition nothing was applied from', () => {
    const ends = [
      { topic: 't', partition: 0, low: 0n, end: 0n },
      { topic: 't', partition: 1, low: 5n, end: 5n },
      { topic: 't', partition: 2, low: 0n, end: 4n },
    ];
    const behind = lagging(ends, new Map());
    expect(behind).toEqual([{ topic: 't', partition: 2, end: 4n, applied: null }]);
    expect(describeLag('users', behind)).toBe('users: t#2 applied nothing, end offset 4');
  });
});
