import { LogicalReplicationService } from 'pg-logical-replication';
import type { Client } from 'pg';
import { formatLsn, parseLsn, type Lsn } from '../../shared/lsn';
import { PgoutputDecoder, type PgoutputMessage } from './pgoutput-decoder';
import type { TypeRegistry } from './pg-types';
import { CAPTURE_SESSION_OPTIONS, quoteIdent } from './session';

export type StreamItem =
  | { kind: 'message'; walStart: Lsn; message: PgoutputMessage; bytes: number }
  | { kind: 'keepalive'; walEnd: Lsn; replyRequested: boolean }
  | { kind: 'tick' };

/** Work run in the handler's order, between two items. */
interface Barrier {
  kind: 'barrier';
  run: () => Promise<void>;
  done: (error?: Error) => void;
}

export interface ReplicationStreamOptions {
  url: string;
  slot: string;
  publication: string;
  types?: TypeRegistry;
}

/** Reading from the socket pauses at this many queued items, or bytes of queued messages as received. */
export const QUEUE_HIGH_WATER = { items: 2000, bytes: 2 * 1024 * 1024 };

/**
 * Whether a queue of `items` holding `bytes` of messages is at 1/`fraction` of either bound: reading
 * pauses at the bound (fraction 1) and resumes below a quarter of both (fraction 4). The bytes keep
 * capture's memory bounded when rows are wide (2,000 messages of 14 KB would be 28 MB).
 */
export function aboveHighWater(items: number, bytes: number, fraction: number): boolean {
  return items >= QUEUE_HIGH_WATER.items / fraction || bytes >= QUEUE_HIGH_WATER.bytes / fraction;
}

/** Microseconds between 1970-01-01 and 2000-01-01. */
const POSTGRES_EPOCH_MS = 946_684_800_000;

/**
 * The pgoutput stream of one slot, handed to an async handler strictly one item at a time.
 *
 * pg-logical-replication 2.5 acknowledges the last *received* LSN on a timer even with auto
 * acknowledgement off, adds one to every acknowledged LSN, and skips a message whose handler
 * failed. So its own acknowledgement and flow control stay off: this class queues messages and
 * keepalives in one order, pauses the socket when the handler falls behind, stops at the first
 * handler failure, and sends standby status updates with exactly the LSN it is given.
 */
export class ReplicationStream {
  private readonly service: LogicalReplicationService;
  readonly decoder: PgoutputDecoder;
  private readonly queue: Array<StreamItem | Barrier> = [];
  /** Bytes of the messages in the queue, as received. */
  private queuedBytes = 0;
  /** The size of the message the library parsed last: it emits it right after parsing. */
  private parsedBytes = 0;
  private draining = false;
  private paused = false;
  private failure: Error | null = null;
  private settle: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private stopping = false;

  constructor(
    private readonly options: ReplicationStreamOptions,
    private readonly handler: (item: StreamItem) => Promise<void>,
  ) {
    this.decoder = new PgoutputDecoder(options.types);
    this.service = new LogicalReplicationService(
      { connectionString: options.url, options: CAPTURE_SESSION_OPTIONS, application_name: 'tandem-capture' },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: false } },
    );
  }

  /** Streams from `startLsn` until stop() (resolves) or a failure (rejects). */
  run(startLsn: Lsn): Promise<void> {
    const done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.service.on('data', (lsn: string, message: PgoutputMessage) =>
      this.enqueue({ kind: 'message', walStart: parseLsn(lsn), message, bytes: this.parsedBytes }),
    );
    this.service.on('heartbeat', (lsn: string, _timestamp: number, shouldRespond: boolean) =>
      this.enqueue({ kind: 'keepalive', walEnd: parseLsn(lsn), replyRequested: shouldRespond }),
    );
    this.service.on('error', (error: Error) => this.fail(error));
    const plugin = {
      name: 'pgoutput',
      // The decoder copies what it keeps (strings, a logical message's bytes): no copy of every message here.
      parse: (buffer: Buffer) => {
        this.parsedBytes = buffer.length;
        return this.decoder.decode(buffer);
      },
      start: (client: Client, slot: string, lsn: string) =>
        client.query(
          `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${lsn} (proto_version '1', publication_names '${this.options.publication.replace(/'/g, "''")}')`,
        ),
    };
    this.service
      .subscribe(plugin as never, this.options.slot, formatLsn(startLsn))
      .then(() => {
        if (!this.stopping) this.fail(new Error('the replication connection closed'));
        else this.finish();
      })
      .catch((error: Error) => (this.stopping ? this.finish() : this.fail(error)));
    return done;
  }

  /** Tells PostgreSQL that everything up to `lsn` is durable (it may then recycle that WAL). */
  acknowledge(lsn: Lsn, replyRequested = false): void {
    const connection = (this.service as unknown as { _connection: { sendCopyFromChunk(b: Buffer): void } | null })._connection;
    if (!connection || this.stopping) return;
    const message = Buffer.alloc(34);
    message.write('r', 0);
    message.writeBigUInt64BE(lsn, 1); // written
    message.writeBigUInt64BE(lsn, 9); // flushed
    message.writeBigUInt64BE(lsn, 17); // applied
    message.writeBigInt64BE(BigInt(Date.now() - POSTGRES_EPOCH_MS) * 1000n, 25);
    message.writeUInt8(replyRequested ? 1 : 0, 33);
    connection.sendCopyFromChunk(message);
  }

  /** A tick for the handler (batch timers, heartbeats), in order with the stream's items. */
  enqueueTick(): void {
    if (this.queue.length === 0 || this.queue[this.queue.length - 1].kind !== 'tick') this.enqueue({ kind: 'tick' });
  }

  /** Whether items received from the server still wait for the handler (the handler is not caught up). */
  hasQueuedItems(): boolean {
    return this.queue.length > 0;
  }

  /** Runs `work` after every item received so far has been handled, in the handler's order. */
  drainThen(work: () => Promise<void>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'barrier', run: work, done: (error) => (error ? reject(error) : resolve()) });
    });
  }

  /** Ends the stream with a failure found outside the handler (e.g. a Kafka commit in flight). */
  abort(error: Error): void {
    this.fail(error);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.clearQueue();
    await this.service.stop().catch(() => undefined);
    this.finish();
  }

  private enqueue(item: StreamItem | Barrier): void {
    if (this.failure || this.stopping) return;
    this.queue.push(item);
    if (item.kind === 'message') this.queuedBytes += item.bytes;
    if (!this.paused && aboveHighWater(this.queue.length, this.queuedBytes, 1)) this.setPaused(true);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0 && !this.failure && !this.stopping) {
        const item = this.queue.shift()!;
        if (item.kind === 'message') this.queuedBytes -= item.bytes;
        if (item.kind === 'barrier') {
          await item.run().then(() => item.done(), (error: Error) => {
            item.done(error);
            throw error;
          });
        } else await this.handler(item);
        if (this.paused && !aboveHighWater(this.queue.length, this.queuedBytes, 4)) this.setPaused(false);
      }
    } catch (error) {
      this.fail(error as Error);
    } finally {
      this.draining = false;
    }
  }

  private clearQueue(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private setPaused(paused: boolean): void {
    const stream = (this.service as unknown as { _connection: { stream?: { pause(): void; resume(): void } } | null })._connection?.stream;
    if (!stream) return;
    this.paused = paused;
    if (paused) stream.pause();
    else stream.resume();
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const item of this.queue) if (item.kind === 'barrier') item.done(error);
    this.clearQueue();
    void this.service.stop().catch(() => undefined);
    this.settle?.reject(error);
  }

  private finish(): void {
    this.settle?.resolve();
  }
}
