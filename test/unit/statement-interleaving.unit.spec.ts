import { interleaveEvents } from '../../src/projections/framework/statement-interleaving';
import {
  planStatements,
  type SourcedOperation,
} from '../../src/connectors/postgres-target/row-writer';
import type { RowOperation } from '../../src/contracts/row-operation';

const op = (operation: RowOperation, key: string, lsn: bigint): SourcedOperation => ({
  operation,
  sourceKey: key,
  lsn,
});

/** An event shaped like app-state's: a head row, then its children, each conditioned on the head. */
function event(key: string, user: string, lsn: bigint, children: number[]): SourcedOperation[] {
  const when = { table: 'heads', match: { user_id: user, _source_lsn: String(lsn) } };
  return [
    op({ op: 'upsert', table: 'heads', key: ['user_id'], row: { user_id: user }, version: 'v' }, key, lsn),
    op(
      { op: 'deleteExcept', table: 'children', match: { user_id: user }, column: 'id', keep: children, when },
      key,
      lsn,
    ),
    ...children.map((id) =>
      op({ op: 'upsert', table: 'children', key: ['id'], row: { id, user_id: user }, when }, key, lsn),
    ),
    op({ op: 'mapId', entity: 'child', sourceId: `${user}/${lsn}`, targetId: 'x' }, key, lsn),
  ];
}

describe('statement interleaving (projections that declare interleaveEvents)', () => {
  it('writes events of different source keys kind by kind: one statement per kind instead of per event', () => {
    const events = [
      event('a', 'u1', 10n, [1, 2]),
      event('b', 'u2', 11n, [3]),
      event('c', 'u3', 12n, [4, 5, 6]),
    ];
    const sequential = planStatements('p', 's', events.flat());
    const interleaved = planStatements(
      'p',
      's',
      interleaveEvents(events, (i) => ['a', 'b', 'c'][i]),
    );
    expect(sequential).toHaveLength(10);
    expect(interleaved.map((s) => s.text.split(' ').slice(0, 3).join(' '))).toEqual([
      'INSERT INTO "s"."heads"',
      'DELETE FROM "s"."children"',
      'INSERT INTO "s"."children"',
      'INSERT INTO tandem.id_map',
    ]);
    // the children's preconditions differ per event, so each event's rows travel as one group with its own
    const groups = JSON.parse(interleaved[2].values[0] as string) as Array<{
      when: unknown;
      rows: Array<{ id: number }>;
    }>;
    expect(groups.map((group) => [group.when, group.rows.map((row) => row.id)])).toEqual([
      [{ user_id: 'u1', _source_lsn: '10' }, [1, 2]],
      [{ user_id: 'u2', _source_lsn: '11' }, [3]],
      [{ user_id: 'u3', _source_lsn: '12' }, [4, 5, 6]],
    ]);
  });

  it('keeps the events of one source key in order: the second starts after the whole first round', () => {
    const first = event('a', 'u1', 10n, [1]);
    const other = event('b', 'u2', 11n, [2]);
    const second = event('a', 'u1', 12n, [3]);
    const merged = interleaveEvents([first, other, second], (i) => ['a', 'b', 'a'][i]);
    const lsns = merged.map((o) => o.lsn);
    const lastOfFirstRound = Math.max(lsns.lastIndexOf(10n), lsns.lastIndexOf(11n));
    expect(lsns.indexOf(12n)).toBeGreaterThan(lastOfFirstRound);
    expect(merged.filter((o) => o.lsn === 12n).map((o) => o.operation)).toEqual(
      second.map((o) => o.operation),
    );
  });

  it("keeps each event's own operations in order when events differ in shape", () => {
    const plain = event('a', 'u1', 10n, [1]);
    const rekeyed = [
      op({ op: 'delete', table: 'children', match: { source: 'b' } }, 'b', 11n),
      ...event('b', 'u2', 11n, [2]),
    ];
    const merged = interleaveEvents([plain, rekeyed], (i) => ['a', 'b'][i]);
    expect(merged.filter((o) => o.sourceKey === 'a').map((o) => o.operation)).toEqual(
      plain.map((o) => o.operation),
    );
    expect(merged.filter((o) => o.sourceKey === 'b').map((o) => o.operation)).toEqual(
      rekeyed.map((o) => o.operation),
    );
    expect(merged).toHaveLength(plain.length + rekeyed.length);
  });
});
