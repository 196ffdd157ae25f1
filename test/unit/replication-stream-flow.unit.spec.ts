import { aboveHighWater, QUEUE_HIGH_WATER } from '../../src/connectors/postgres-source/replication-stream';

describe('replication stream flow control', () => {
  const bound = QUEUE_HIGH_WATER;

  it('pauses at 2,000 small messages, as before the byte bound', () => {
    expect(aboveHighWater({ items: 1999, bytes: 1999 * 200 }, bound, 1)).toBe(false);
    expect(aboveHighWater({ items: 2000, bytes: 2000 * 200 }, bound, 1)).toBe(true);
  });

  it('pauses on bytes first when rows are wide: 14 KiB messages stop at 147, not 2,000', () => {
    const wide = 14 * 1024;
    expect(aboveHighWater({ items: 146, bytes: 146 * wide }, bound, 1)).toBe(false);
    expect(aboveHighWater({ items: 147, bytes: 147 * wide }, bound, 1)).toBe(true);
  });

  it('resumes only below a quarter of both bounds', () => {
    expect(aboveHighWater({ items: 100, bytes: bound.bytes / 4 }, bound, 4)).toBe(true);
    expect(aboveHighWater({ items: bound.items / 4, bytes: 0 }, bound, 4)).toBe(true);
    expect(aboveHighWater({ items: 100, bytes: bound.bytes / 4 - 1 }, bound, 4)).toBe(false);
  });
});
