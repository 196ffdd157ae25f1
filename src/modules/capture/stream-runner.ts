import { ReplicationStream, type StreamItem } from '../../connectors/postgres-source/replication-stream';
import type { TypeRegistry } from '../../connectors/postgres-source/pg-types';
import type { Lsn } from '../../shared/lsn';
import { formatLsn } from '../../shared/lsn';
import { CaptureStateError } from '../../shared/errors';
import { failbackOriginPrefix } from '../../contracts/failback-names';
import { ChangeStreamProcessor } from './change-stream-processor';
import { PackedRecords } from '../../connectors/kafka/packed-records';
import { pruneSnapshot } from './capture-state';
import type { CaptureContext } from './capture-context';
import type { BackfillTracker } from './backfill/backfill-tracker';
import { PieceBudget } from './backfill/piece-budget';

/**
 * At most this often a durable LSN is acknowledged. The slot's confirmed position is what a cutover's
 * drained gate and reconciliation's settling wait for, so a short interval keeps the write-freeze
 * window short; a standby status update is a few bytes.
 */
const ACK_INTERVAL_MS = 100;

/**
 * A Kafka transaction that carries a backfill piece should take at most twice what the stream's own
 * take (see PieceBudget): a streamed event waits for at most one such transaction before its own.
 */
const PIECE_BUDGET = { factor: 2, floorMs: 50, min: 50, max: 20_000, start: 500, pieceFreeEvery: 8 };

/** Rows of a piece encoded per turn of the event loop while a commit is in flight (see prepareAhead). */
const PREPARE_SLICE_ROWS = 200;

export interface StreamStatus {
  durableLsn: Lsn | null;
  eventsProduced: number;
  lastFlushAt: number | null;
}

/**
 * Streams the slot into Kafka. Records collect in a batch that is committed in one Kafka transaction
 * with the capture state; only then is the LSN acknowledged to PostgreSQL. A batch goes as soon as no
 * commit is in flight and every change received so far is handled (at a source transaction's end), so
 * an idle pipeline adds no wait and under load a batch is what arrived during the previous commit; a
 * batch also goes when it is large enough, after maxBatchDelayMs at the latest (a stream that never
 * pauses, as in a catch-up), and on shutdown. When nothing is in flight, a keepalive's LSN is
 * acknowledged too (with a heartbeat record), so an idle or filtered database does not make the
 * slot retain WAL without bound.
 */
export class StreamRunner {
  private readonly processor: ChangeStreamProcessor;
  private readonly stream: ReplicationStream;
  private batch = new PackedRecords();
  private batchStartedAt = 0;
  private lastHeartbeatAt = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private lastAckSentAt = 0;
  private lastAckSent: Lsn | null = null;
  private inflight: Promise<void> | null = null;
  private committing = false;
  private preparing = false;
  private readonly pieces = new PieceBudget(PIECE_BUDGET);
  readonly status: StreamStatus = { durableLsn: null, eventsProduced: 0, lastFlushAt: null };

  constructor(
    private readonly context: CaptureContext,
    types: TypeRegistry,
    keyColumns: Map<string, string[]>,
    private readonly backfill: BackfillTracker,
  ) {
    const { config, state } = context;
    this.processor = new ChangeStreamProcessor(
      {
        topicPrefix: config.kafka.topicPrefix,
        database: new URL(config.source.url).pathname.slice(1),
        partitions: config.kafka.partitions,
        types,
        keyColumns,
        columns: context.columns,
        now: Date.now,
        skipOriginPrefix: failbackOriginPrefix(config.kafka.topicPrefix),
      },
      state.stream,
      state.snapshot && Object.keys(state.snapshot.tables).length > 0 ? state.snapshot : null,
      backfill,
    );
    this.stream = new ReplicationStream(
      { url: config.source.url, slot: config.source.slot, publication: config.source.publication, types },
      (item) => this.handle(item),
    );
    this.status.durableLsn = state.stream.ackLsn;
  }

  async run(): Promise<void> {
    const ticks = Math.max(10, Math.min(this.context.config.capture.maxBatchDelayMs, 1000));
    this.timer = setInterval(() => this.stream.enqueueTick(), ticks);
    try {
      await this.stream.run(this.context.state.stream.ackLsn ?? 0n);
    } catch (error) {
      if (/replication slot .* does not exist/.test((error as Error).message)) {
        throw new CaptureStateError(
          `replication slot "${this.context.config.source.slot}" was dropped while capture streamed from it; ` +
            'changes may be lost. A re-snapshot is needed: run `tandem capture --resnapshot`.',
          { cause: error },
        );
      }
      throw error;
    } finally {
      if (this.timer) clearInterval(this.timer);
    }
  }

  /** Commits what is buffered, acknowledges it, and ends the replication connection. */
  async stop(): Promise<void> {
    await this.stream.drainThen(async () => {
      await this.flush();
      await this.inflight;
      this.acknowledge();
    });
    await this.stream.stop();
  }

  private async handle(item: StreamItem): Promise<void> {
    const { config } = this.context;
    if (item.kind === 'message') {
      const before = this.batch.length;
      this.processor.handle(item.message, item.walStart, this.batch);
      if (before === 0 && this.batch.length > 0) this.batchStartedAt = Date.now();
      if (this.batchFull() || this.caughtUp()) await this.flush();
      return;
    }
    if (item.kind === 'keepalive') {
      if (!this.processor.inTransaction() && this.batch.length === 0) {
        this.processor.advanceIdle(item.walEnd);
        const position = this.processor.currentPosition();
        if (position.ackLsn !== null && position.ackLsn !== this.status.durableLsn) await this.flush();
      } else if (this.caughtUp()) await this.flush(); // the keepalive was the last item behind a batch
      if (item.replyRequested) this.acknowledge();
      return;
    }
    // tick
    if (this.backfill.hasPending() && !this.committing && !this.processor.inTransaction()) await this.flush();
    else if (this.caughtUp() || (this.batch.length > 0 && Date.now() - this.batchStartedAt >= config.capture.maxBatchDelayMs))
      await this.flush();
    else if (this.status.durableLsn !== this.lastAckSent && Date.now() - this.lastAckSentAt >= ACK_INTERVAL_MS) {
      this.acknowledge();
    } else if (this.heartbeatDue()) {
      this.lastHeartbeatAt = Date.now();
      this.stream.acknowledge(this.status.durableLsn ?? 0n, true); // asks the server for a keepalive
    }
  }

  /**
   * A batch is full at maxBatchEvents events or maxBatchBytes bytes, whichever comes first: the bytes
   * bound capture's memory when rows are wide (a batch is held while it is built, another while it is
   * produced, and their buffers are reused).
   */
  private batchFull(): boolean {
    const { maxBatchEvents, maxBatchBytes } = this.context.config.capture;
    return this.batch.length >= maxBatchEvents || this.batch.byteLength >= maxBatchBytes;
  }

  /**
   * A batch waits for nothing more: no commit is in flight, no source transaction is open, and no
   * received item waits behind this one. Flushing here costs no throughput (a catch-up's stream
   * never pauses, so its batches still fill) and keeps a timer out of the latency.
   */
  private caughtUp(): boolean {
    return this.batch.length > 0 && !this.committing && !this.processor.inTransaction() && !this.stream.hasQueuedItems();
  }

  private heartbeatDue(): boolean {
    return Date.now() - this.lastHeartbeatAt >= this.context.config.source.heartbeatIntervalMs;
  }

  /**
   * Starts committing the batch in one Kafka transaction and returns once it is under way, so that
   * decoding the next batch overlaps the commit of this one. One transaction at a time: a flush
   * first waits for the previous one. A failed commit stops the stream.
   *
   * Between two source transactions, a piece of a pending backfill chunk rides along, sized so that
   * the transaction stays short (PieceBudget); while pieces are pending, the next transaction starts
   * as soon as one commits, with whatever the stream delivered meanwhile.
   */
  private async flush(): Promise<void> {
    if (this.inflight) await this.inflight;
    const position = this.processor.currentPosition();
    const records = this.batch;
    const budget = this.backfill.hasPending() && !this.processor.inTransaction() ? this.pieces.rows(records.length) : 0;
    const pieceRows = budget > 0 ? this.backfill.takePiece(budget, records) : null;
    const heartbeat = records.length === 0 && pieceRows === null;
    if (heartbeat && position.ackLsn === this.status.durableLsn) return;
    if (heartbeat) {
      this.lastHeartbeatAt = Date.now();
      records.push({
        topic: this.context.names.heartbeatTopic,
        key: JSON.stringify({ serverName: this.context.config.kafka.topicPrefix }),
        value: JSON.stringify({ ts_ms: Date.now(), lsn: position.ackLsn === null ? null : formatLsn(position.ackLsn) }),
      });
    }
    this.batch = new PackedRecords(records.byteLength, records.length);
    // Backfill progress is taken at the same point as the position: it covers exactly the records of the batch.
    const next = pruneSnapshot({ ...this.context.state, stream: position, ...this.backfill.state() });
    const startedAt = Date.now();
    this.committing = true;
    this.inflight = this.context.commit(records, next).then(() => {
      this.committing = false;
      this.pieces.observe(records.length, pieceRows ?? 0, Date.now() - startedAt);
      if (!heartbeat) this.status.eventsProduced += records.length;
      this.status.lastFlushAt = Date.now();
      if (position.ackLsn !== null) this.status.durableLsn = position.ackLsn;
      // what arrived during this commit goes next, without waiting for the timer
      if (this.backfill.hasPending() || this.batch.length > 0) this.stream.enqueueTick();
    });
    this.inflight.catch((error: Error) => this.stream.abort(error));
    if (this.backfill.hasPending()) void this.prepareAhead();
  }

  /**
   * While a commit is in flight, encodes the rows of the next pieces a slice at a time, yielding to
   * the event loop between slices: the stream goes on decoding meanwhile, and the next transaction
   * does not begin with its piece's encoding (which on this thread would hold up the stream too).
   */
  private async prepareAhead(): Promise<void> {
    if (this.preparing) return;
    this.preparing = true;
    try {
      while (this.committing && this.backfill.preparePieces(PREPARE_SLICE_ROWS, 2 * this.pieces.size()) > 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.preparing = false;
    }
  }

  /**
   * Acknowledging is what lets PostgreSQL recycle WAL; it is done at most every ACK_INTERVAL_MS. Whatever
   * was produced but not yet acknowledged when capture dies is decoded again after a restart, and
   * ChangeStreamProcessor skips it by the position committed with the events.
   */
  private acknowledge(): void {
    if (this.status.durableLsn === null) return;
    this.stream.acknowledge(this.status.durableLsn);
    this.lastAckSent = this.status.durableLsn;
    this.lastAckSentAt = Date.now();
  }
}
