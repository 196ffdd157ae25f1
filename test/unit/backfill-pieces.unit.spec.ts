import { WatermarkWindow, type ChunkRead } from '../../src/modules/capture/backfill/watermark-window';
import { BackfillTracker } from '../../src/modules/capture/backfill/backfill-tracker';
import { PieceBudget } from '../../src/modules/capture/backfill/piece-budget';
import type { ProducedRecord } from '../../src/contracts/positions';
import { changeEvent, sourceInfo } from '../../src/contracts/envelope';

const key = (id: number) => JSON.stringify({ id });
const chunk = (ids: number[], after: string[] | null, last = false): ChunkRead => ({
  rows: ids.map((id) => ({ key: key(id), keyText: [String(id)], row: { id, v: `read ${id}` } as never })),
  lastKey: ids.length > 0 ? [String(ids[ids.length - 1])] : null,
  estimatedRows: after === null ? 6 : null,
  last,
  after,
  runningXids: [],
});
const at = (lsn: bigint) => ({ walStart: lsn, finalLsn: lsn + 8n, commitTimeMicros: 5_000_000 });

function setup() {
  const tracker = new BackfillTracker(
    { slot: 's', signalTable: 'public.tandem_signal', topicPrefix: 'p', database: 'db', keyColumns: new Map([['public.t', ['id']]]), now: () => 1000 },
    { backfills: [], capturedTables: ['public.t'] },
  );
  tracker.onSignal({ id: 'b1', type: 'backfill', data: { slot: 's', table: 'public.t', where: null, chunkSize: 3 } }, at(100n));
  let settled = 0;
  /** Opens a window, lets `inside` happen in it, attaches the chunk and reaches the high watermark. */
  const window = (id: string, read: ChunkRead, inside: () => void = () => undefined) => {
    const w = new WatermarkWindow(id, 'b1', 'public.t');
    void tracker.register(w).then(() => (settled += 1));
    tracker.onSignal({ id: `${id}:open`, type: 'window-open', data: { slot: 's', window: id } }, at(200n));
    inside();
    w.attach(read);
    tracker.onSignal({ id: `${id}:close`, type: 'window-close', data: { slot: 's', window: id } }, at(300n));
  };
  const reads = (out: ProducedRecord[]) => out.map((r) => JSON.parse(r.value!)).map((e) => ({ id: e.after.id, lsn: e.source.lsn, commitLsn: e.source.commit_lsn }));
  return { tracker, window, reads, settled: () => settled };
}

describe('a backfill chunk produced in pieces', () => {
  it('moves the progress with each piece, so a restart goes on after the last piece committed, and counts the chunk with its last', async () => {
    const { tracker, window, settled } = setup();
    window('w1', chunk([1, 2, 3], null));
    const out: ProducedRecord[] = [];
    expect(tracker.takePiece(2, out)).toBe(2);
    expect(out).toHaveLength(2);
    expect(tracker.state().backfills[0]).toMatchObject({ status: 'running', lastKey: ['2'], rowsRead: 2, chunksDone: 0, estimatedRows: 6 });
    await Promise.resolve();
    expect(settled()).toBe(0);
    expect(tracker.takePiece(2, out)).toBe(1);
    expect(tracker.state().backfills[0]).toMatchObject({ lastKey: ['3'], rowsRead: 3, rowsEmitted: 3, chunksDone: 1 });
    expect(tracker.hasPending()).toBe(false);
    await Promise.resolve();
    expect(settled()).toBe(1);
    expect(tracker.takePiece(2, out)).toBeNull();
  });

  it('encodes each read event as the whole envelope would be encoded, the source placed at the high watermark', () => {
    const { tracker, window } = setup();
    window('w1', chunk([1, 2], null));
    const out: ProducedRecord[] = [];
    tracker.takePiece(2, out);
    const source = sourceInfo({
      serverName: 'p',
      database: 'db',
      schema: 'public',
      table: 't',
      snapshot: 'incremental',
      commitTimeMicros: 5_000_000,
      txId: null,
      lsn: 300n,
      commitLsn: 308n,
      previousCommitLsn: null,
    });
    expect(out.map((r) => r.value)).toEqual([1, 2].map((id) => JSON.stringify(changeEvent('r', null, { id, v: `read ${id}` } as never, source, null, 1000))));
  });

  it('produces rows encoded ahead of their piece as the same text, and only up to the rows asked ahead of the next piece', () => {
    const encoded = (prepare: boolean) => {
      const { tracker, window } = setup();
      window('w1', chunk([1, 2, 3], null));
      // row 5 changed in its window, its TOASTed column left alone: produced filled, not as read
      window('w2', chunk([4, 5, 6], ['3']), () => tracker.recordChange('public.t', key(5), 'u', { id: 5, v: '__debezium_unavailable_value', n: 9 } as never));
      if (prepare) {
        expect(tracker.preparePieces(2, 4)).toBe(2);
        expect(tracker.preparePieces(10, 4)).toBe(2); // rows 1-4: four ahead of the next piece's start
        expect(tracker.preparePieces(10, 4)).toBe(0);
      }
      const out: ProducedRecord[] = [];
      while (tracker.takePiece(2, out) !== null) if (prepare) tracker.preparePieces(10, 4);
      return out.map((r) => [r.key, r.value]);
    };
    expect(encoded(true)).toEqual(encoded(false));
    expect(encoded(true)).toHaveLength(6);
    expect(JSON.parse(encoded(true)[4][1]!).after).toEqual({ id: 5, v: 'read 5', n: 9 });
  });

  it('drops a row whose key the stream changed after the high watermark, before its piece: the streamed event is newer', () => {
    const { tracker, window, reads } = setup();
    window('w1', chunk([1, 2, 3], null));
    const out: ProducedRecord[] = [];
    tracker.takePiece(1, out);
    tracker.noteTransaction(901, 0x500n, 6_000_000);
    tracker.recordChange('public.t', key(2), 'u', { id: 2, v: 'streamed after the high watermark' });
    tracker.takePiece(5, out);
    // A later piece carries the LSN of the last streamed transaction: it is the rows' state there.
    expect(reads(out)).toEqual([
      { id: 1, lsn: 300, commitLsn: 308 },
      { id: 3, lsn: 0x500, commitLsn: 0x500 },
    ]);
    expect(tracker.state().backfills[0]).toMatchObject({ rowsRead: 3, rowsEmitted: 2, chunksDone: 1 });
  });

  it('takes the chunk read ahead while the one before it is still pending, and produces them in order', () => {
    const { tracker, window, reads } = setup();
    window('w1', chunk([1, 2, 3], null));
    window('w2', chunk([4, 5], ['3'], true));
    const out: ProducedRecord[] = [];
    while (tracker.takePiece(2, out) !== null);
    expect(reads(out).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(tracker.state().backfills[0]).toMatchObject({ status: 'done', lastKey: ['5'], rowsRead: 5, chunksDone: 2 });
  });

  it('stops producing a chunk whose backfill is cancelled, or whose worker gave it up, and releases its wait', async () => {
    const { tracker, window, settled } = setup();
    window('w1', chunk([1, 2, 3], null));
    const out: ProducedRecord[] = [];
    tracker.takePiece(1, out);
    tracker.onSignal({ id: 'c', type: 'backfill-cancel', data: { slot: 's', backfill: 'b1' } }, at(400n));
    expect(tracker.takePiece(5, out)).toBeNull();
    expect(out).toHaveLength(1);
    expect(tracker.state().backfills[0]).toMatchObject({ status: 'cancelled', lastKey: ['1'], rowsRead: 1 });
    await Promise.resolve();
    expect(settled()).toBe(1);

    const second = setup();
    second.window('w1', chunk([1, 2, 3], null));
    second.tracker.takePiece(1, []);
    second.tracker.unregister('w1');
    expect(second.tracker.hasPending()).toBe(false);
    expect(second.tracker.state().backfills[0]).toMatchObject({ status: 'running', lastKey: ['1'] });
    await Promise.resolve();
    expect(second.settled()).toBe(1);
  });
});

describe('piece budget', () => {
  const options = { factor: 2, floorMs: 50, min: 100, max: 2000, start: 500, pieceFreeEvery: 4 };

  it('sizes pieces so that a transaction takes about twice what the stream\'s own take, within its bounds', () => {
    const budget = new PieceBudget(options);
    expect(budget.targetMs()).toBe(50); // nothing measured yet: the floor
    budget.observe(20, 0, 100); // the stream's own transaction
    expect(budget.targetMs()).toBe(200);
    expect(budget.rows(0)).toBe(500);
    budget.observe(500, 500, 100); // fast: grows
    expect(budget.rows(0)).toBe(750);
    for (let i = 0; i < 20; i++) budget.observe(budget.rows(0), budget.rows(0), 10);
    expect(budget.rows(0)).toBe(2000);
    budget.observe(2000, 2000, 800); // slow: shrinks
    expect(budget.rows(0)).toBe(1000);
    for (let i = 0; i < 20; i++) budget.observe(budget.rows(0), budget.rows(0), 5000);
    expect(budget.rows(0)).toBe(100);
  });

  it('leaves streamed records in front of the piece, and every few transactions to the stream alone', () => {
    const budget = new PieceBudget(options);
    expect([budget.rows(150), budget.rows(150), budget.rows(150), budget.rows(150), budget.rows(150)]).toEqual([350, 350, 350, 0, 350]);
    expect(budget.rows(0)).toBe(500); // without streamed records, no transaction is left out
  });
});
