import type { LogRecord } from '../../contracts/positions';
import type { BatchItem } from '../framework/batch-applier';
import { DecodeAhead } from './decode-ahead';
import { TimeSlicer } from './time-slicer';

/**
 * A source transaction is never split over two target transactions unless it alone exceeds ten
 * chunks' events or two chunks' bytes (the bytes bound what one chunk holds in memory).
 */
const MAX_TRANSACTION_SPLIT = 10;
const MAX_TRANSACTION_BYTES_SPLIT = 2;

/**
 * Record bytes per target transaction at most (with maxEvents): what one chunk holds in memory as
 * strings, parsed events, row operations and statement parameters, about 4× this while written.
 */
export const MAX_CHUNK_BYTES = 2 * 1024 * 1024;

/** How long decoding and planning run before they let the statements of the chunk being written go on. */
const WORK_SLICE_MS = 1;

export interface ChunkLimits {
  maxEvents: number;
  maxBytes?: number;
  /**
   * Record bytes decoded at a time, the chunk being written and the next one together (default twice
   * maxBytes): a chunk stretched over a large source transaction is not decoded beside another.
   */
  maxDecodedBytes?: number;
}

const transactionOf = (item: BatchItem) =>
  item.decoded.kind === 'apply' ? item.decoded.event.transactionId : null;

export const recordBytes = (record: LogRecord) => (record.value?.length ?? 0) + (record.key?.length ?? 0);

/**
 * Splits decoded items into target transactions of at most `maxEvents` events and `maxBytes` record
 * bytes, extending a chunk to the end of its source transaction (up to ten times the events and
 * twice the bytes).
 */
export function chunkByTransaction(items: BatchItem[], maxEvents: number, maxBytes = Infinity): BatchItem[][] {
  const chunks: BatchItem[][] = [];
  const cutter = new ChunkCutter({ maxEvents, maxBytes });
  let start = 0;
  for (let index = 0; index < items.length; index++) {
    if (cutter.endsBefore(items[index])) {
      chunks.push(items.slice(start, index));
      start = index;
    }
  }
  if (start < items.length) chunks.push(items.slice(start));
  return chunks;
}

/** Decides, item by item, where a chunk ends (see chunkByTransaction). */
class ChunkCutter {
  private events = 0;
  private bytes = 0;
  private last: BatchItem | null = null;
  private readonly maxBytes: number;

  constructor(private readonly limits: ChunkLimits) {
    this.maxBytes = limits.maxBytes ?? Infinity;
  }

  /** Whether the chunk so far ends before `item`; counts `item` into the chunk it goes to. */
  endsBefore(item: BatchItem): boolean {
    const bytes = recordBytes(item.record);
    const full = this.events >= this.limits.maxEvents || (this.events > 0 && this.bytes + bytes > this.maxBytes);
    const open = this.last === null ? null : transactionOf(this.last);
    const mayExtend =
      open !== null &&
      transactionOf(item) === open &&
      this.events < this.limits.maxEvents * MAX_TRANSACTION_SPLIT &&
      this.bytes < this.maxBytes * MAX_TRANSACTION_BYTES_SPLIT;
    const ends = this.events > 0 && full && !mayExtend;
    if (ends) [this.events, this.bytes] = [0, 0];
    this.events++;
    this.bytes += bytes;
    this.last = item;
    return ends;
  }
}

/**
 * Decodes `records` chunk by chunk and hands each chunk to `write`, decoding the next chunk (and
 * `prepare`-ing it: the statements planned ahead) while the current one is written: that work runs
 * in short slices between the write's round trips, so the projector's CPU work overlaps the
 * database's. Chunks are written one after the other, in order; at most two are decoded at a time
 * (the one being written and the next), and the next only as far as `limits.maxDecodedBytes` allows.
 */
export async function writeInChunks<Prepared = undefined>(
  records: LogRecord[],
  decode: (record: LogRecord) => BatchItem,
  limits: ChunkLimits,
  write: (chunk: BatchItem[], prepared: Prepared | undefined) => Promise<void>,
  prepare?: (chunk: BatchItem[], slicer: TimeSlicer) => Promise<Prepared>,
): Promise<void> {
  const ahead = new DecodeAhead(limits.maxDecodedBytes ?? 2 * (limits.maxBytes ?? Infinity));
  const slicer = new TimeSlicer(WORK_SLICE_MS);
  const reader = new SlicedChunkReader(records, decode, limits, ahead, slicer);
  const readNext = async () => {
    const chunk = await reader.next();
    if (chunk === null) return null;
    return { chunk, prepared: prepare ? await prepare(chunk, slicer) : undefined };
  };
  let pending = readNext();
  for (;;) {
    const next = await pending;
    if (next === null) return;
    const { chunk, prepared } = next;
    ahead.startWriting(chunk.reduce((sum, item) => sum + recordBytes(item.record), 0));
    pending = readNext();
    pending.catch(() => undefined); // a decode failure is thrown where it is awaited, above
    try {
      await write(chunk, prepared);
    } finally {
      ahead.doneWriting();
    }
  }
}

/**
 * Reads the next chunk of decoded items, pausing every WORK_SLICE_MS and waiting while the chunk so
 * far would not fit beside the one being written (DecodeAhead).
 */
class SlicedChunkReader {
  private index = 0;
  private carried: BatchItem | null = null;
  private readonly cutter: ChunkCutter;

  constructor(
    private readonly records: LogRecord[],
    private readonly decode: (record: LogRecord) => BatchItem,
    limits: ChunkLimits,
    private readonly ahead: DecodeAhead,
    private readonly slicer: TimeSlicer,
  ) {
    this.cutter = new ChunkCutter(limits);
  }

  async next(): Promise<BatchItem[] | null> {
    const chunk: BatchItem[] = [];
    let bytes = 0;
    if (this.carried) {
      chunk.push(this.carried);
      bytes = recordBytes(this.carried.record);
    }
    this.carried = null;
    this.slicer.restart();
    while (this.index < this.records.length) {
      const record = this.records[this.index];
      bytes += recordBytes(record);
      if (!this.ahead.fits(bytes)) {
        await this.ahead.room(bytes);
        this.slicer.restart();
      }
      this.index++;
      const item = this.decode(record);
      if (this.cutter.endsBefore(item) && chunk.length > 0) {
        this.carried = item;
        return chunk;
      }
      chunk.push(item);
      await this.slicer.pause();
    }
    return chunk.length > 0 ? chunk : null;
  }
}
