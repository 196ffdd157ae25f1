import { buildStatus } from '../../src/modules/status/status-model';
import { renderStatus } from '../../src/modules/status/status.render';
import { WatermarkWindow, type ChunkRead } from '../../src/modules/capture/backfill/watermark-window';
import { BackfillTracker } from '../../src/modules/capture/backfill/backfill-tracker';
import { cancelBackfill, currentBackfill, finishChunk, requestBackfill } from '../../src/modules/capture/backfill/backfill-state';
import type { ProducedRecord } from '../../src/contracts/positions';
import { PgoutputDecoder } from '../../src/connectors/postgres-source/pgoutput-decoder';
import { ChangeStreamProcessor } from '../../src/modules/capture/change-stream-processor';
import { pgoutput } from '../support/pgoutput-builder';

const TOAST = '__debezium_unavailable_value';
const key = (id: number) => JSON.stringify({ id });
const chunk = (rows: Array<Record<string, unknown>>, last = false): ChunkRead => ({
  rows: rows.map((row) => ({ key: key(row.id as number), keyText: [String(row.id)], row: row as never })),
  lastKey: rows.length > 0 ? [String(rows[rows.length - 1].id)] : null,
  estimatedRows: null,
  last,
  after: null,
  runningXids: [],
});

describe('watermark window', () => {
  it('emits the chunk rows whose keys the stream did not change inside the window, in key order', () => {
    const window = new WatermarkWindow('w', 'b', 'public.t');
    window.recordChange(key(2), 'u', { id: 2, v: 'new' });
    window.recordChange(key(4), 'd', null);
    window.attach(chunk([{ id: 1, v: 'a' }, { id: 2, v: 'old' }, { id: 3, v: 'c' }, { id: 4, v: 'd' }]));
    expect(window.close()).toEqual([{ id: 1, v: 'a' }, { id: 3, v: 'c' }]);
  });

  it('drops a key inserted, or deleted and inserted again, inside the window: the insert carries the whole row', () => {
    const window = new WatermarkWindow('w', 'b', 'public.t');
    window.recordChange(key(1), 'd', null);
    window.recordChange(key(1), 'c', { id: 1, v: 'again' });
    window.attach(chunk([{ id: 1, v: 'before' }]));
    expect(window.close()).toEqual([]);
  });

  it('fills an unchanged TOASTed column from the chunk when the window never saw its value', () => {
    const window = new WatermarkWindow('w', 'b', 'public.t');
    window.recordChange(key(1), 'u', { id: 1, n: 2, doc: TOAST });
    window.recordChange(key(1), 'u', { id: 1, n: 3, doc: TOAST });
    window.attach(chunk([{ id: 1, n: 1, doc: 'large' }]));
    expect(window.close()).toEqual([{ id: 1, n: 3, doc: 'large' }]);
  });

  it('keeps a TOASTed value the window saw change, and then drops the key (the stream told all of it)', () => {
    const window = new WatermarkWindow('w', 'b', 'public.t');
    window.recordChange(key(1), 'u', { id: 1, n: 2, doc: 'changed' });
    window.recordChange(key(1), 'u', { id: 1, n: 3, doc: TOAST });
    window.attach(chunk([{ id: 1, n: 1, doc: 'large' }]));
    expect(window.close()).toEqual([]);
  });

  it('emits nothing after a TRUNCATE inside the window', () => {
    const window = new WatermarkWindow('w', 'b', 'public.t');
    window.recordTruncate();
    window.attach(chunk([{ id: 1 }]));
    expect(window.close()).toEqual([]);
  });

  it('cannot close before its chunk is read', () => {
    expect(() => new WatermarkWindow('w', 'b', 'public.t').close()).toThrow(/before its chunk/);
  });
});

describe('backfill state', () => {
  const request = { table: 'public.t', where: null, chunkSize: 10, origin: 'command' as const };

  it('runs backfills one after another, each from its last finished chunk', () => {
    let backfills = requestBackfill([], { ...request, id: 'a' }, 1);
    backfills = requestBackfill(backfills, { ...request, id: 'b' }, 2);
    backfills = requestBackfill(backfills, { ...request, id: 'a' }, 3); // a repeated signal
    expect(backfills.map((b) => b.id)).toEqual(['a', 'b']);
    expect(currentBackfill(backfills)!.id).toBe('a');
    backfills = finishChunk(backfills, { backfillId: 'a', lastKey: ['10'], rowsRead: 10, rowsEmitted: 9, estimatedRows: 15, last: false }, 4);
    expect(currentBackfill(backfills)).toMatchObject({ id: 'a', lastKey: ['10'], rowsRead: 10, chunksDone: 1, estimatedRows: 15 });
    backfills = finishChunk(backfills, { backfillId: 'a', lastKey: ['15'], rowsRead: 5, rowsEmitted: 5, estimatedRows: null, last: true }, 5);
    expect(backfills[0]).toMatchObject({ status: 'done', rowsRead: 15, rowsEmitted: 14, chunksDone: 2, estimatedRows: 15 });
    expect(currentBackfill(backfills)!.id).toBe('b');
  });

  it('ignores a chunk of a cancelled backfill', () => {
    let backfills = cancelBackfill(requestBackfill([], { ...request, id: 'a' }, 1), 'a', 2);
    backfills = finishChunk(backfills, { backfillId: 'a', lastKey: ['10'], rowsRead: 10, rowsEmitted: 10, estimatedRows: 10, last: false }, 3);
    expect(backfills[0]).toMatchObject({ status: 'cancelled', chunksDone: 0 });
    expect(currentBackfill(backfills)).toBeNull();
  });
});

describe('backfill tracker', () => {
  const options = {
    slot: 's',
    signalTable: 'public.tandem_signal',
    topicPrefix: 'p',
    database: 'db',
    keyColumns: new Map([['public.t', ['id']]]),
    now: () => 1000,
  };
  const at = (lsn: bigint) => ({ walStart: lsn, finalLsn: lsn + 8n, commitTimeMicros: 5_000_000 });

  it('emits the surviving rows at the high watermark as op r, snapshot incremental, with its LSN, and records the chunk', async () => {
    const tracker = new BackfillTracker(options, { backfills: [], capturedTables: ['public.t'] });
    const out: ProducedRecord[] = [];
    tracker.onSignal({ id: 'b1', type: 'backfill', data: { slot: 's', table: 'public.t', where: null, chunkSize: 2 } }, at(100n));
    const window = new WatermarkWindow('w1', 'b1', 'public.t');
    const closed = tracker.register(window);
    tracker.recordChange('public.t', key(1), 'u', { id: 1, v: 'before the window' });
    tracker.onSignal({ id: 'w1:open', type: 'window-open', data: { slot: 's', window: 'w1' } }, at(200n));
    tracker.recordChange('public.t', key(2), 'u', { id: 2, v: 'inside' });
    tracker.recordChange('public.other', key(1), 'd', null);
    window.attach({ ...chunk([{ id: 1, v: 'x' }, { id: 2, v: 'y' }]), estimatedRows: 3 });
    tracker.onSignal({ id: 'w1:close', type: 'window-close', data: { slot: 's', window: 'w1' } }, at(300n));
    expect(tracker.takePiece(100, out)).toBe(2);
    await closed;
    expect(out).toHaveLength(1);
    expect(out[0].topic).toBe('p.public.t');
    expect(out[0].key).toBe(key(1));
    const event = JSON.parse(out[0].value!);
    expect(event).toMatchObject({ op: 'r', before: null, after: { id: 1, v: 'x' }, transaction: null });
    expect(event.source).toMatchObject({ snapshot: 'incremental', lsn: 300, commit_lsn: 308, table: 't', schema: 'public' });
    expect(tracker.state().backfills[0]).toMatchObject({ status: 'running', lastKey: ['2'], rowsRead: 2, rowsEmitted: 1, chunksDone: 1, estimatedRows: 3 });
  });

  it('reads a chunk again when its snapshot missed a transaction the stream delivered before the window opened', async () => {
    const tracker = new BackfillTracker(options, { backfills: [], capturedTables: ['public.t'] });
    const out: ProducedRecord[] = [];
    tracker.onSignal({ id: 'b1', type: 'backfill', data: { slot: 's', table: 'public.t', where: null, chunkSize: 2 } }, at(100n));
    const run = async (windowId: string, runningXids: number[]) => {
      const window = new WatermarkWindow(windowId, 'b1', 'public.t');
      const closed = tracker.register(window);
      tracker.noteTransaction(77); // committed before the low watermark, in the stream
      tracker.noteTransaction(90); // the low watermark's own transaction
      tracker.onSignal({ id: `${windowId}:open`, type: 'window-open', data: { slot: 's', window: windowId } }, at(200n));
      tracker.noteTransaction(78); // inside the window
      window.attach({ ...chunk([{ id: 1, v: 'x' }]), runningXids });
      tracker.onSignal({ id: `${windowId}:close`, type: 'window-close', data: { slot: 's', window: windowId } }, at(300n));
      tracker.takePiece(100, out);
      await closed;
    };
    await run('w1', [78, 77]); // the snapshot still saw 77 as running: its row may be older than the stream's
    expect(out).toEqual([]);
    expect(tracker.state().backfills[0]).toMatchObject({ chunksDone: 0, lastKey: null });
    await run('w2', [78]); // 78 is inside the window: handled by the window itself
    expect(out).toHaveLength(1);
    expect(tracker.state().backfills[0]).toMatchObject({ chunksDone: 1, lastKey: ['1'] });
  });

  it('takes a chunk read ahead only when it starts right after the recorded progress', async () => {
    const tracker = new BackfillTracker(options, { backfills: [], capturedTables: ['public.t'] });
    const out: ProducedRecord[] = [];
    tracker.onSignal({ id: 'b1', type: 'backfill', data: { slot: 's', table: 'public.t', where: null, chunkSize: 1 } }, at(100n));
    const window = new WatermarkWindow('w', 'b1', 'public.t');
    const closed = tracker.register(window);
    tracker.onSignal({ id: 'w:open', type: 'window-open', data: { slot: 's', window: 'w' } }, at(200n));
    window.attach({ ...chunk([{ id: 2 }]), after: ['1'] }); // read after a chunk ending at 1 that was never taken
    tracker.onSignal({ id: 'w:close', type: 'window-close', data: { slot: 's', window: 'w' } }, at(300n));
    await closed;
    expect(out).toEqual([]);
    expect(tracker.state().backfills[0]).toMatchObject({ chunksDone: 0, lastKey: null });
  });

  it('ignores watermarks of windows it did not open (an earlier process) and signals of another slot', () => {
    const tracker = new BackfillTracker(options, { backfills: [], capturedTables: [] });
    const out: ProducedRecord[] = [];
    tracker.onSignal({ id: 'x', type: 'backfill', data: { slot: 'other', table: 'public.t', chunkSize: 2 } }, at(1n));
    tracker.onSignal({ id: 'w:close', type: 'window-close', data: { slot: 's', window: 'w' } }, at(2n));
    expect(out).toEqual([]);
    expect(tracker.state().backfills).toEqual([]);
  });

  it('backfills a table added to source.tables once, however often capture asked on start', () => {
    const tracker = new BackfillTracker(options, { backfills: [], capturedTables: [] });
    const auto = (id: string) => ({ id, type: 'backfill' as const, data: { slot: 's', table: 'public.t', chunkSize: 5, origin: 'auto' } });
    tracker.onSignal(auto('auto:1'), at(1n));
    tracker.onSignal(auto('auto:2'), at(2n));
    expect(tracker.state().backfills.map((b) => b.id)).toEqual(['auto:1']);
    expect(tracker.state().capturedTables).toEqual(['public.t']);
  });
});

describe('backfill status', () => {
  it('shows each backfill with rows read, chunks done and left, and its rate', () => {
    const status = buildStatus(
      {
        at: new Date(0),
        slot: { slot: 's', publication: 'p', currentWalLsn: '0/10', slotFound: true, active: true, confirmedFlushLsn: '0/10', restartLsn: '0/10', flushLagSeconds: null },
        captureTopics: [],
        kafka: { reachable: true, error: null },
        projections: [],
        reconciliations: [],
        cutover: null,
        backfills: [
          {
            id: 'b1',
            data: { table: 'public.orders', where: "region = 'eu'", chunkSize: 1000, origin: 'command' },
            progress: { status: 'running', rowsRead: 3000, rowsEmitted: 2990, chunksDone: 3, estimatedRows: 10_500, chunkSize: 1000, startedAtMs: 10_000, updatedAtMs: 13_000 },
            createdAt: new Date(5_000),
          },
          { id: 'b2', data: { table: 'public.users', where: null, chunkSize: 500 }, progress: null, createdAt: new Date(6_000) },
        ],
      },
      [],
    );
    expect(status.backfills).toEqual([
      expect.objectContaining({ id: 'b1', table: 'public.orders', status: 'running', rowsRead: 3000, chunksDone: 3, chunksLeft: 8, rowsPerSecond: 1000 }),
      expect.objectContaining({ id: 'b2', table: 'public.users', status: 'requested', rowsRead: 0, chunksLeft: null, rowsPerSecond: null }),
    ]);
    const text = renderStatus(status);
    expect(text).toMatch(/BACKFILL\s+TABLE\s+STATE\s+ROWS READ\s+CHUNKS DONE\s+CHUNKS LEFT\s+ROWS\/S/);
    expect(text).toMatch(/b1\s+public\.orders where region = 'eu'\s+running\s+3000\s+3\s+8\s+1000/);
  });
});

describe('backfill through the change stream', () => {
  const T = 16390;
  const SIGNAL = 16391;
  const setup = () => {
    const decoder = new PgoutputDecoder();
    decoder.types.learn(3802, 'jsonb');
    decoder.types.learn(1184, 'timestamptz');
    const keyColumns = new Map([['public.t', ['id']]]);
    const tracker = new BackfillTracker(
      { slot: 's', signalTable: 'public.tandem_signal', topicPrefix: 'p', database: 'db', keyColumns, now: () => 1 },
      { backfills: [], capturedTables: ['public.t'] },
    );
    const processor = new ChangeStreamProcessor(
      { topicPrefix: 'p', database: 'db', partitions: 3, types: decoder.types, keyColumns, now: () => 1, skipOriginPrefix: 'tandem_failback.' },
      { lastCommitLsn: null, partial: null, ackLsn: null },
      null,
      tracker,
    );
    const out: ProducedRecord[] = [];
    const feed = (...messages: Buffer[]) => {
      for (const message of messages) processor.handle(decoder.decode(message), 0x1000n, out);
    };
    feed(
      pgoutput.relation(T, 'public', 't', 'd', [{ name: 'id', typeOid: 23, key: true }, { name: 'v', typeOid: 25 }]),
      pgoutput.relation(SIGNAL, 'public', 'tandem_signal', 'd', [
        { name: 'id', typeOid: 25, key: true },
        { name: 'type', typeOid: 25 },
        { name: 'data', typeOid: 3802 },
        { name: 'progress', typeOid: 3802 },
        { name: 'created_at', typeOid: 1184 },
      ]),
    );
    let lsn = 0x10000n;
    let xid = 500;
    const tx = (...changes: Buffer[]) => {
      lsn += 0x100n;
      xid += 1;
      return [pgoutput.begin(lsn, xid), ...changes, pgoutput.commit(lsn, lsn + 0x30n)];
    };
    const signal = (id: string, type: string, data: object) =>
      tx(pgoutput.insert(SIGNAL, [id, type, JSON.stringify({ slot: 's', ...data }), null, '2026-12-05 00:00:00+00']));
    return { tracker, processor, out, feed, tx, signal };
  };

  it('reads signals from the stream, never produces them, and drops keys changed inside the window (a failback write too)', async () => {
    const { tracker, out, feed, tx, signal } = setup();
    feed(...signal('b1', 'backfill', { table: 'public.t', where: null, chunkSize: 10 }));
    expect(tracker.state().backfills).toHaveLength(1);
    const window = new WatermarkWindow('w', 'b1', 'public.t');
    const closed = tracker.register(window);
    feed(...tx(pgoutput.update(T, ['1', 'before the window'])));
    feed(...signal('w:open', 'window-open', { window: 'w' }));
    feed(...tx(pgoutput.update(T, ['2', 'streamed inside'])));
    const [begin, ...rest] = tx(pgoutput.update(T, ['3', 'failback wrote this']));
    feed(begin, pgoutput.origin('tandem_failback.users'), ...rest);
    window.attach({ ...chunk([{ id: 1, v: 'a' }, { id: 2, v: 'old' }, { id: 3, v: 'old' }, { id: 4, v: 'd' }], true), runningXids: [] });
    feed(...signal('w:close', 'window-close', { window: 'w' }));
    tracker.takePiece(100, out);
    await closed;
    const reads = out.filter((r) => r.value !== null && JSON.parse(r.value).op === 'r');
    expect(reads.map((r) => r.key)).toEqual([key(1), key(4)]);
    expect(out.some((r) => r.topic.includes('tandem_signal'))).toBe(false);
    expect(tracker.state().backfills[0]).toMatchObject({ status: 'done', rowsRead: 4, rowsEmitted: 2 });
  });
});
