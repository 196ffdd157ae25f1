import { StreamEventSerializer } from '../../src/connectors/postgres-source/change-event';
import { changeEvent, sourceInfo, type Row } from '../../src/contracts/envelope';

describe('StreamEventSerializer', () => {
  const context = {
    serverName: 'legacy "prod"',
    database: 'app',
    schema: 'public',
    table: 'users',
    commitTimeMicros: 1_795_316_980_942_685,
    txId: 18478,
    commitLsn: 0x1db6_a3d0n,
  };
  const row: Row = {
    id: '9223372036854775807',
    note: 'héllo "q"\n',
    tags: ['x', null],
    amount: '1.50',
    flag: true,
    n: -3,
  };

  it.each([
    ['insert after an earlier commit', 'c', null, row, 0x1db5_0000n],
    ['update with the old row', 'u', { ...row, n: 1 }, row, null],
    ['delete with the key only', 'd', { id: '1', note: null }, null, 0x10n],
  ] as const)(
    'writes the same JSON as the envelope objects: %s',
    (_name, op, before, after, previousCommitLsn) => {
      const lsn = 0x1db6_a000n;
      const serializer = new StreamEventSerializer({ ...context, previousCommitLsn }, '18478:498780112');
      const expected = JSON.stringify(
        changeEvent(
          op,
          before,
          after,
          sourceInfo({ ...context, snapshot: false, lsn, previousCommitLsn }),
          { id: '18478:498780112', total_order: 3, data_collection_order: 2 },
          1_795_316_982_226,
        ),
      );
      expect(serializer.eventJson(op, before, after, lsn, 3, 2, 1_795_316_982_226)).toBe(expected);
    },
  );

  it('writes the same JSON for each of a run of events, whatever their operation, time and LSN', () => {
    const serializer = new StreamEventSerializer({ ...context, previousCommitLsn: null }, '18478:498780112');
    const events = [
      ['c', 1_795_316_982_226, 0x1db6_a000n],
      ['d', 1_795_316_982_226, 0x1db6_a100n],
      ['c', 1_795_316_982_226, 0x1db6_a200n],
      ['c', 1_795_316_982_227, 0x1db6_a300n],
      ['u', 1_795_316_982_227, 2n ** 60n + 7n], // past 2^53: the sequence keeps every digit
    ] as const;
    events.forEach(([op, now, lsn], i) => {
      const expected = JSON.stringify(
        changeEvent(
          op,
          op === 'c' ? null : row,
          op === 'd' ? null : row,
          sourceInfo({ ...context, snapshot: false, lsn, previousCommitLsn: null }),
          { id: '18478:498780112', total_order: i + 1, data_collection_order: i + 1 },
          now,
        ),
      );
      expect(serializer.eventJson(op, op === 'c' ? null : row, op === 'd' ? null : row, lsn, i + 1, i + 1, now)).toBe(expected);
    });
  });
});
