import { PgoutputDecoder } from '../../src/connectors/postgres-source/pgoutput-decoder';
import { ChangeStreamProcessor } from '../../src/modules/capture/change-stream-processor';
import type { ProducedRecord } from '../../src/contracts/positions';
import type { StreamPosition } from '../../src/modules/capture/capture-state';
import { pgoutput } from '../support/pgoutput-builder';
import { ColumnPolicy } from '../../src/connectors/postgres-source/column-policy';
import type { SnapshotProgress } from '../../src/modules/capture/capture-state';

const USERS = 16384;
const VECTOR_OID = 90001;
const columns = [
  { name: 'id', typeOid: 20, key: true },
  { name: 'email', typeOid: 25 },
  { name: 'bio', typeOid: 25 },
  { name: 'embedding', typeOid: VECTOR_OID },
];

function setup(start: StreamPosition = { lastCommitLsn: null, partial: null, ackLsn: null }, snapshot: SnapshotProgress | null = null, columnPolicy?: ColumnPolicy) {
  const decoder = new PgoutputDecoder();
  const processor = new ChangeStreamProcessor(
    {
      topicPrefix: 'legacy',
      database: 'app',
      partitions: 3,
      types: decoder.types,
      keyColumns: new Map([['public.users', ['id']]]),
      now: () => 42,
      skipOriginPrefix: 'tandem_failback.legacy.',
      columns: columnPolicy,
    },
    start,
    snapshot,
  );
  const out: ProducedRecord[] = [];
  const feed = (...messages: Buffer[]) => {
    for (const message of messages) processor.handle(decoder.decode(message), 0x1000n, out);
  };
  feed(
    pgoutput.type(VECTOR_OID, 'public', 'vector'),
    pgoutput.relation(USERS, 'public', 'users', 'd', columns),
  );
  return { processor, out, feed };
}

/** A transaction of three inserts whose commit record is at `lsn`. */
const threeInserts = (lsn: bigint, xid: number, firstId: number) => [
  pgoutput.begin(lsn, xid),
  ...[0, 1, 2].map((i) =>
    pgoutput.insert(USERS, [String(firstId + i), `u${firstId + i}@x.io`, 'bio', '[1,2]']),
  ),
  pgoutput.commit(lsn, lsn + 0x30n),
];

const values = (out: ProducedRecord[]) =>
  out.map((record) => (record.value === null ? null : JSON.parse(record.value)));

describe('ChangeStreamProcessor', () => {
  it('maps an insert to a Debezium envelope keyed by primary key, framed by BEGIN and END', () => {
    const { out, feed, processor } = setup();
    feed(...threeInserts(0x5000n, 700, 1));
    expect(out.map((r) => r.topic)).toEqual([
      'legacy.transaction',
      'legacy.public.users',
      'legacy.public.users',
      'legacy.public.users',
      'legacy.transaction',
    ]);
    const [begin, first, , , end] = values(out);
    expect(begin).toMatchObject({ status: 'BEGIN', id: '700:20480', event_count: null });
    expect(end).toMatchObject({
      status: 'END',
      event_count: 3,
      data_collections: [{ data_collection: 'public.users', event_count: 3 }],
    });
    expect(out[1].key).toBe('{"id":"1"}');
    expect(first).toEqual({
      before: null,
      after: { id: '1', email: 'u1@x.io', bio: 'bio', embedding: [1, 2] },
      source: {
        version: '0.1.0',
        connector: 'postgresql',
        name: 'legacy',
        ts_ms: 1_700_000_000_000,
        snapshot: 'false',
        db: 'app',
        sequence: '[null,"4096"]',
        ts_us: 1_700_000_000_000_000,
        ts_ns: 1_700_000_000_000_000_000,
        schema: 'public',
        table: 'users',
        txId: 700,
        lsn: 4096,
        commit_lsn: 0x5000,
        xmin: null,
      },
      transaction: { id: '700:20480', total_order: 1, data_collection_order: 1 },
      op: 'c',
      ts_ms: 42,
      ts_us: 42_000,
      ts_ns: 42_000_000,
    });
    expect(processor.currentPosition()).toEqual({ lastCommitLsn: 0x5000n, partial: null, ackLsn: 0x5030n });
  });

  it('replaces an unchanged TOASTed value by the placeholder, and emits a key change as delete + tombstone + create', () => {
    const { out, feed } = setup();
    feed(
      pgoutput.begin(0x6000n, 701),
      pgoutput.update(USERS, ['1', 'new@x.io', 'UNCHANGED_TOAST', '[1,2]']),
      pgoutput.update(USERS, ['9', 'new@x.io', 'bio', '[1,2]'], {
        kind: 'K',
        cells: ['1', null, null, null],
      }),
      pgoutput.commit(0x6000n, 0x6030n),
    );
    const events = values(out).filter((v) => v && v.op);
    expect(events[0]).toMatchObject({
      op: 'u',
      before: null,
      after: { bio: '__debezium_unavailable_value' },
    });
    expect(events.slice(1).map((e) => e.op)).toEqual(['d', 'c']);
    expect(
      out.filter((r) => r.topic === 'legacy.public.users').map((r) => [r.key, r.value === null]),
    ).toEqual([
      ['{"id":"1"}', false],
      ['{"id":"1"}', false],
      ['{"id":"1"}', true],
      ['{"id":"9"}', false],
    ]);
  });

  it('places a TRUNCATE on every partition of the table topic', () => {
    const { out, feed } = setup();
    feed(pgoutput.begin(0x7000n, 702), pgoutput.truncate([USERS]), pgoutput.commit(0x7000n, 0x7030n));
    const truncates = out.filter((r) => r.topic === 'legacy.public.users');
    expect(truncates.map((r) => r.partition)).toEqual([0, 1, 2]);
    expect(JSON.parse(truncates[0].value!)).toMatchObject({ op: 't', before: null, after: null });
  });

  it('after a restart, skips transactions already in Kafka and the produced part of a partial one', () => {
    const first = setup();
    first.feed(...threeInserts(0x5000n, 700, 1));
    const second = threeInserts(0x6000n, 701, 10);
    first.feed(...second.slice(0, 3)); // BEGIN marker + two inserts of the second transaction
    const crashedAt = first.processor.currentPosition();
    expect(crashedAt.partial).toEqual({ finalLsn: 0x6000n, emitted: 3 });
    const producedBeforeCrash = first.out.length;

    // PostgreSQL sends both transactions again; only what was not produced comes out.
    const restarted = setup(crashedAt);
    restarted.feed(...threeInserts(0x5000n, 700, 1), ...second);
    const all = [...first.out.slice(0, producedBeforeCrash), ...restarted.out];
    const uninterrupted = setup();
    uninterrupted.feed(...threeInserts(0x5000n, 700, 1), ...second);
    expect(values(all).map((v) => v?.after?.id ?? v?.status)).toEqual(
      values(uninterrupted.out).map((v) => v?.after?.id ?? v?.status),
    );
    expect(restarted.processor.currentPosition()).toEqual({
      lastCommitLsn: 0x6000n,
      partial: null,
      ackLsn: 0x6030n,
    });
  });

  it('acknowledges a keepalive position only when no transaction is open', () => {
    const { processor, feed } = setup();
    feed(pgoutput.begin(0x9000n, 703));
    processor.advanceIdle(0x9999n);
    expect(processor.currentPosition().ackLsn).toBeNull();
    feed(pgoutput.commit(0x9000n, 0x9030n));
    processor.advanceIdle(0x9999n);
    expect(processor.currentPosition().ackLsn).toBe(0x9999n);
  });

  it('skips a transaction written under failback\'s replication origin, and still moves its position past it', () => {
    const { out, feed, processor } = setup();
    const [begin, ...rest] = threeInserts(0x5000n, 700, 1);
    feed(begin, pgoutput.origin('tandem_failback.legacy.users'), ...rest);
    expect(out).toEqual([]);
    expect(processor.currentPosition()).toMatchObject({ lastCommitLsn: 0x5000n, ackLsn: 0x5030n });
    const [begin2, ...rest2] = threeInserts(0x6000n, 701, 4);
    feed(begin2, pgoutput.origin('some_other_replication'), ...rest2);
    expect(values(out).filter((v) => v?.op === 'c').map((v) => v.after.id)).toEqual(['4', '5', '6']);
  });

  it('after a resumed snapshot, skips the changes a resumed chunk holds by the clear key, even when the key is masked', () => {
    // Chunk (10, ∞) was read again after a crash at 0x9000: a change of key 11 committed before that is in it already.
    const snapshot: SnapshotProgress = {
      status: 'done',
      consistentLsn: 0x10n,
      tables: {
        'public.users': {
          keyColumns: ['id'],
          keyKinds: ['integer'],
          chunks: [
            { lower: null, upper: ['10'], doneAtLsn: 0x10n },
            { lower: ['10'], upper: null, doneAtLsn: 0x9000n },
          ],
        },
      },
    };
    const masked = new ColumnPolicy(new Map([['public.users', { exclude: new Set<string>(), mask: new Set(['id']), key: Buffer.from('k'.repeat(32)) }]]));
    for (const columns of [undefined, masked]) {
      const { out, feed } = setup(undefined, snapshot, columns);
      feed(...threeInserts(0x5000n, 700, 9));
      feed(...threeInserts(0x9500n, 701, 20));
      const emitted = values(out).filter((v) => v?.op === 'c').map((v) => v.after.id);
      // 9 and 10 (the first chunk's upper bound) were read at the consistent point, 11 by the resumed chunk; 20–22 came after.
      expect(emitted).toHaveLength(5);
      if (!columns) expect(emitted).toEqual(['9', '10', '20', '21', '22']);
      else expect(emitted.every((id: string) => /^[0-9a-f]{64}$/.test(id))).toBe(true);
    }
  });
});
