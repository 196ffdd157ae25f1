import type { ProducedRecord, RecordSink } from '../../contracts/positions';

/** A record as the producer sends it: key and value as strings, or as their UTF-8 bytes. */
export interface OutgoingRecord {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer | null;
  partition?: number;
}

/** What a PackedRecords becomes on its way to the producer thread (its buffers are transferred, not copied). */
export interface PackedRecordsMessage {
  topics: string[];
  index: Int32Array;
  bytes: Uint8Array;
}

/** Memory of batches sent earlier: one batch is being built while one is produced. */
const MAX_SPARES = 2;
const spares: Array<{ bytes: Buffer; index: Int32Array }> = [];

/** Per record in `index`: topic number, partition (-1: none), key length, value length (-1: null). */
const FIELDS = 4;

/**
 * Records encoded as they are appended: keys and values as UTF-8 into one growing buffer, the rest
 * into an Int32Array. Capture's events are strings that would otherwise stay alive on the V8 heap
 * until their batch is sent (each young-generation collection copying them again, then the old
 * generation collecting them), be copied once more by postMessage's structured clone, and be
 * UTF-8-encoded again by the producer thread: the largest costs of capture's main thread in its
 * profile (BENCHMARKS.md). Here an event string dies as soon as it is appended, and the batch goes
 * to the producer thread as two transferred buffers.
 */
export class PackedRecords implements RecordSink {
  private bytes: Buffer;
  private used = 0;
  private index: Int32Array;
  private count = 0;
  private readonly topics: string[] = [];
  private readonly topicNumbers = new Map<string, number>();

  /** `expectedBytes`: e.g. the previous batch's byteLength, so that the buffer rarely grows. */
  constructor(expectedBytes = 0, expectedRecords = 0) {
    const spare = spares.pop();
    this.bytes = spare && spare.bytes.length >= expectedBytes ? spare.bytes : Buffer.allocUnsafeSlow(Math.max(expectedBytes, 64 * 1024));
    this.index =
      spare && spare.index.length >= expectedRecords * FIELDS ? spare.index : new Int32Array(Math.max(expectedRecords, 1024) * FIELDS);
  }

  /**
   * Takes back the memory of a batch the producer thread is done with, for the next batches: fresh
   * memory costs a page fault per 4 KiB when first written, and garbage buffers outside the V8 heap
   * are freed only when a garbage collection happens to run (they added to capture's peak RSS).
   */
  static recycle(memory: { bytes: ArrayBuffer; index: ArrayBuffer }): void {
    if (spares.length < MAX_SPARES) spares.push({ bytes: Buffer.from(memory.bytes), index: new Int32Array(memory.index) });
  }

  static of(records: readonly ProducedRecord[]): PackedRecords {
    const packed = new PackedRecords(records.reduce((n, r) => n + (r.key?.length ?? 0) + (r.value?.length ?? 0), 0));
    for (const record of records) packed.push(record);
    return packed;
  }

  get length(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.used;
  }

  push(record: ProducedRecord): void {
    if ((this.count + 1) * FIELDS > this.index.length) this.growIndex();
    let topic = this.topicNumbers.get(record.topic);
    if (topic === undefined) {
      topic = this.topics.push(record.topic) - 1;
      this.topicNumbers.set(record.topic, topic);
    }
    const at = this.count++ * FIELDS;
    this.index[at] = topic;
    this.index[at + 1] = record.partition ?? -1;
    this.index[at + 2] = this.write(record.key);
    this.index[at + 3] = this.write(record.value);
  }

  /** The records, keys and values as views of the buffer (for a producer on this thread). */
  records(): OutgoingRecord[] {
    return unpackRecords(this.view());
  }

  /** The message for the producer thread and the buffers to transfer; this object is unusable afterwards. */
  transfer(): { message: PackedRecordsMessage; transfer: ArrayBuffer[] } {
    const message = this.view();
    return { message, transfer: [this.bytes.buffer as ArrayBuffer, this.index.buffer as ArrayBuffer] };
  }

  private view(): PackedRecordsMessage {
    return {
      topics: this.topics,
      index: this.index.subarray(0, this.count * FIELDS),
      bytes: this.bytes.subarray(0, this.used),
    };
  }

  /** Appends a string's UTF-8 bytes; returns their length, -1 for null. */
  private write(text: string | null): number {
    if (text === null) return -1;
    // A UTF-16 code unit takes at most 3 bytes of UTF-8; only when that might not fit is the exact length needed.
    if (this.bytes.length - this.used < text.length * 3) this.ensure(Buffer.byteLength(text, 'utf8'));
    const written = this.bytes.write(text, this.used);
    this.used += written;
    return written;
  }

  private ensure(bytes: number): void {
    if (this.bytes.length - this.used >= bytes) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.used + bytes));
    this.bytes.copy(grown, 0, 0, this.used);
    this.bytes = grown;
  }

  private growIndex(): void {
    const grown = new Int32Array(this.index.length * 2);
    grown.set(this.index);
    this.index = grown;
  }
}

/** The records of a PackedRecordsMessage, keys and values as views of its buffer. */
export function memoryOf({ index, bytes }: PackedRecordsMessage): { bytes: ArrayBuffer; index: ArrayBuffer } {
  return { bytes: bytes.buffer as ArrayBuffer, index: index.buffer as ArrayBuffer };
}

export function unpackRecords({ topics, index, bytes }: PackedRecordsMessage): OutgoingRecord[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records = new Array<OutgoingRecord>(index.length / FIELDS);
  let at = 0;
  for (let i = 0, r = 0; i < index.length; i += FIELDS, r++) {
    const keyLength = index[i + 2];
    const valueLength = index[i + 3];
    const key = keyLength < 0 ? null : buffer.subarray(at, (at += keyLength));
    const value = valueLength < 0 ? null : buffer.subarray(at, (at += valueLength));
    records[r] = index[i + 1] < 0 ? { topic: topics[index[i]], key, value } : { topic: topics[index[i]], key, value, partition: index[i + 1] };
  }
  return records;
}
