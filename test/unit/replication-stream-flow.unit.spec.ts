import { aboveHighWater, QUEUE_HIGH_WATER } from '../../src/connectors/postgres-source/replication-stream';

describe('replication stream flow control', () => {
  const bound = QUEUE_HIGH_WATER;
  const above = (queue: { items: number; bytes: number }, fraction: number) => aboveHighWater(queue.items, queue.bytes, fraction);

  it('pauses at 2,000 small messages, as before the byte bound', () => {
    expect(above({ items: 1999, bytes: 1999 * 200 }, 1)).toBe(false);
    expect(above({ items: 2000, bytes: 2000 * 200 }, 1)).toBe(true);
  });

  it('pauses on bytes first when rows are wide: 14 KiB messages stop at 147, not 2,000', () => {
    const wide = 14 * 1024;
    expect(above({ items: 146, bytes: 146 * wide }, 1)).toBe(false);
    expect(above({ items: 147, bytes: 147 * wide }, 1)).toBe(true);
  });

  it('resumes only below a quarter of both bounds', () => {
    expect(above({ items: 100, bytes: bound.bytes / 4 }, 4)).toBe(true);
    expect(above({ items: bound.items / 4, bytes: 0 }, 4)).toBe(true);
    expect(above({ items: 100, bytes: bound.bytes / 4 - 1 }, 4)).toBe(false);
  });
});
