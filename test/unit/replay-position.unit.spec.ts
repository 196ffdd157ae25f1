import { belongs, describePosition, eventPosition, parsePosition } from '../../src/modules/replay/position';

describe('replay positions', () => {
  it('parses every form of POSITION', () => {
    expect(parsePosition('lsn:0/EA0C2DB8')).toEqual({ kind: 'lsn', lsn: 0xea0c2db8n });
    expect(parsePosition('16/B374D848')).toEqual({ kind: 'lsn', lsn: (0x16n << 32n) | 0xb374d848n });
    expect(parsePosition('offsets:legacy.public.users#0=12,legacy.public.users#2=-1')).toEqual({
      kind: 'offsets',
      offsets: new Map([
        ['legacy.public.users#0', 12n],
        ['legacy.public.users#2', -1n],
      ]),
    });
    expect(parsePosition('time:2026-11-22T00:00:00Z')).toEqual({ kind: 'time', ms: Date.parse('2026-11-22T00:00:00Z') });
    expect(parsePosition('2026-11-22T01:00:00+01:00')).toEqual({ kind: 'time', ms: Date.parse('2026-11-22T00:00:00Z') });
    expect(parsePosition('cutover:7')).toEqual({ kind: 'cutover', id: 7 });
    expect(parsePosition('checkpoint:3')).toEqual({ kind: 'checkpoint', id: 3 });
  });

  it('refuses what is not a position, with the accepted forms', () => {
    expect(() => parsePosition('yesterday')).toThrow(/not a position \(lsn:X\/Y, offsets:topic#p=o/);
    expect(() => parsePosition('cutover:abc')).toThrow(/numeric id/);
    expect(() => parsePosition('time:2026-11-22T00:00:00')).toThrow(/with a zone/);
    expect(() => parsePosition('offsets:topic=1')).toThrow(/<topic>#<partition>=<offset>/);
  });

  it('describes a position as it is parsed', () => {
    expect(describePosition(parsePosition('lsn:16/B374D848'))).toBe('lsn:16/B374D848');
    expect(describePosition(parsePosition('cutover:2'))).toBe('cutover:2');
  });

  it('cuts each partition by offset, commit LSN or commit time; tombstones follow their delete', () => {
    const record = (offset: bigint) => ({ topic: 't', partition: 1, offset });
    const offsets = { kind: 'offsets' as const, offsets: new Map([['t#1', 5n]]) };
    expect(belongs(offsets, record(5n), null)).toBe(true);
    expect(belongs(offsets, record(6n), null)).toBe(false);
    expect(belongs(offsets, { topic: 't', partition: 0, offset: 0n }, null)).toBe(false);
    const value = (lsn: number, ts: number) => JSON.stringify({ source: { commit_lsn: lsn, ts_ms: ts } });
    expect(eventPosition(value(100, 1000))).toEqual({ commitLsn: 100n, commitMs: 1000 });
    expect(eventPosition(null)).toBeNull();
    expect(belongs({ kind: 'lsn', lsn: 100n }, record(9n), eventPosition(value(100, 1000)))).toBe(true);
    expect(belongs({ kind: 'lsn', lsn: 100n }, record(9n), eventPosition(value(101, 1000)))).toBe(false);
    expect(belongs({ kind: 'lsn', lsn: 100n }, record(9n), null)).toBe(true);
    expect(belongs({ kind: 'time', ms: 999 }, record(9n), eventPosition(value(1, 1000)))).toBe(false);
  });
});
