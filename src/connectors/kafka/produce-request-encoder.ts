/* eslint-disable @typescript-eslint/no-require-imports */
import { crc32c } from './crc32c';
import { leaveRoomForFraming } from './request-framing';

/**
 * kafkajs's Produce request (v3, which v4–v7 reuse), encoded into one buffer of the exact size.
 * kafkajs builds every record as its own Encoder (a 512-byte buffer, grown and copied for larger
 * values), copies them into the batch, the batch into the partition, the partition into the request,
 * and takes the CRC-32C one byte at a time: that was about half of capture's producer thread (profile
 * in BENCHMARKS.md). The bytes here are the same as kafkajs's (test/unit/produce-request-encoder.unit.spec.ts);
 * requests this does not cover (compression, record timestamps or headers) go to kafkajs's own code.
 */

type Bytes = string | Buffer | null | undefined;

interface ProduceMessage {
  key?: Bytes;
  value: Bytes;
  timestamp?: string | number | null;
  headers?: Record<string, unknown>;
}

interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}

interface LongLike {
  getHighBits(): number;
  getLowBits(): number;
}

export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  /** A string as kafkajs keeps it (InitProducerId's int64), or a Long. */
  producerId?: string | number | LongLike;
  producerEpoch?: number;
  compression?: number;
  topicData: Array<{ topic: string; partitions: PartitionData[] }>;
}

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
}

const V3_REQUEST = 'kafkajs/src/protocol/requests/produce/v3/request';
const Encoder = require('kafkajs/src/protocol/encoder') as new (size?: number) => KafkajsEncoder;
const Long = require('kafkajs/src/utils/long') as { fromValue(value: unknown): LongLike };

/** Bytes left free before an encoded request: a request header with a client id of up to 242 bytes. */
const FRAME_ROOM = 256;
const TRANSACTIONAL = 16; // record batch attribute bit
const MAGIC = 2;
/** Bytes of a record batch before its records: base offset … first sequence, and the record count. */
const BATCH_OVERHEAD = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

const zigZag = (value: number) => (value << 1) ^ (value >> 31);

function varIntSize(value: number): number {
  let encoded = zigZag(value) >>> 0;
  let bytes = 1;
  while (encoded > 0x7f) {
    bytes++;
    encoded >>>= 7;
  }
  return bytes;
}

const byteLength = (bytes: Bytes): number =>
  bytes == null ? -1 : Buffer.isBuffer(bytes) ? bytes.length : Buffer.byteLength(String(bytes), 'utf8');

const fieldSize = (length: number): number => varIntSize(length) + Math.max(length, 0);

/** Whether kafkajs's own encoding is needed for these records. */
function needsKafkajs(args: ProduceRequestArgs): boolean {
  if ((args.compression ?? 0) !== 0) return true;
  for (const { partitions } of args.topicData)
    for (const { messages } of partitions)
      for (const message of messages) {
        if (message.timestamp != null) return true;
        if (message.headers && Object.keys(message.headers).length > 0) return true;
      }
  return false;
}

class Writer {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  int8(value: number): void {
    this.buf[this.offset++] = value & 0xff;
  }
  int16(value: number): void {
    this.offset = this.buf.writeInt16BE(value, this.offset);
  }
  int32(value: number): void {
    this.offset = this.buf.writeInt32BE(value, this.offset);
  }
  int64(high: number, low: number): void {
    this.int32(high);
    this.int32(low);
  }
  varInt(value: number): void {
    let encoded = zigZag(value) >>> 0;
    while (encoded > 0x7f) {
      this.buf[this.offset++] = (encoded & 0x7f) | 0x80;
      encoded >>>= 7;
    }
    this.buf[this.offset++] = encoded;
  }
  string(value: string | null): void {
    if (value === null) return this.int16(-1);
    const length = Buffer.byteLength(value, 'utf8');
    this.int16(length);
    this.offset += this.buf.write(value, this.offset, length, 'utf8');
  }
  varBytes(value: Bytes, length: number): void {
    this.varInt(length);
    if (length < 0) return;
    if (Buffer.isBuffer(value)) {
      this.buf.set(value, this.offset);
      this.offset += length;
    }
    else this.offset += this.buf.write(String(value), this.offset, length, 'utf8');
  }
}

/** Sizes of one partition's records: [key length, value length, record body length] per record. */
function recordSizes(messages: ProduceMessage[]): { sizes: Int32Array; bytes: number } {
  const sizes = new Int32Array(messages.length * 3);
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    const key = byteLength(messages[i].key);
    const value = byteLength(messages[i].value);
    // attributes, timestamp delta 0, offset delta, key, value, header count 0
    const body = 1 + 1 + varIntSize(i) + fieldSize(key) + fieldSize(value) + 1;
    sizes[i * 3] = key;
    sizes[i * 3 + 1] = value;
    sizes[i * 3 + 2] = body;
    bytes += varIntSize(body) + body;
  }
  return { sizes, bytes };
}

function encodeFast(args: ProduceRequestArgs): KafkajsEncoder {
  const transactionalId = args.transactionalId ?? null;
  const producerId = Long.fromValue(args.producerId ?? -1);
  const producerEpoch = args.producerEpoch ?? 0;
  const timestamp = Date.now();
  const timestampHigh = Math.floor(timestamp / 2 ** 32);
  const timestampLow = timestamp % 2 ** 32 | 0;

  const layout = args.topicData.map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.map((data) => ({ data, ...recordSizes(data.messages) })),
  }));
  let total = (transactionalId === null ? 2 : 2 + Buffer.byteLength(transactionalId, 'utf8')) + 2 + 4 + 4;
  for (const { topic, partitions } of layout) {
    total += 2 + Buffer.byteLength(topic, 'utf8') + 4;
    for (const partition of partitions) total += 4 + 4 + BATCH_OVERHEAD + partition.bytes;
  }

  // Room in front for request-framing.ts to write the request header without copying the request.
  const w = new Writer(leaseMemory(FRAME_ROOM + total, args.topicData).subarray(FRAME_ROOM, FRAME_ROOM + total));
  leaveRoomForFraming(w.buf);
  w.string(transactionalId);
  w.int16(args.acks);
  w.int32(args.timeout);
  w.int32(layout.length);
  for (const { topic, partitions } of layout) {
    w.string(topic);
    w.int32(partitions.length);
    for (const { data, sizes, bytes } of partitions) {
      const { messages } = data;
      const batchLength = BATCH_OVERHEAD - 12 + bytes; // from the partition leader epoch on
      w.int32(data.partition);
      w.int32(12 + batchLength);
      w.int64(0, 0); // base offset
      w.int32(batchLength);
      w.int32(0); // partition leader epoch
      w.int8(MAGIC);
      const crcAt = w.offset;
      w.offset += 4;
      w.int16(transactionalId === null ? 0 : TRANSACTIONAL);
      w.int32(messages.length - 1); // last offset delta
      w.int64(timestampHigh, timestampLow); // first timestamp
      w.int64(timestampHigh, timestampLow); // max timestamp
      w.int64(producerId.getHighBits(), producerId.getLowBits());
      w.int16(producerEpoch);
      w.int32(data.firstSequence ?? 0);
      w.int32(messages.length);
      for (let i = 0; i < messages.length; i++) {
        w.varInt(sizes[i * 3 + 2]);
        w.int8(0); // attributes
        w.int8(0); // timestamp delta
        w.varInt(i); // offset delta
        w.varBytes(messages[i].key, sizes[i * 3]);
        w.varBytes(messages[i].value, sizes[i * 3 + 1]);
        w.int8(0); // header count
      }
      w.buf.writeUInt32BE(crc32c(w.buf, crcAt + 4, w.offset), crcAt);
    }
  }
  if (w.offset !== total) throw new Error(`produce request: encoded ${w.offset} bytes, expected ${total}`);
  const encoder = new Encoder(0);
  encoder.buf = w.buf;
  encoder.offset = total;
  return encoder;
}

/**
 * Memory of requests already answered, for the next ones. A 2 MB request in fresh memory costs 512
 * page faults as it is written, and the garbage requests, outside the V8 heap of a thread that makes
 * little other garbage, were freed only when a collection happened to run.
 */
const spareMemory: Buffer[] = [];
const MAX_SPARE = 4;
const leases = new WeakMap<object, Buffer[]>();

function leaseMemory(bytes: number, topicData: object): Buffer {
  const spare = spareMemory.findIndex((memory) => memory.length >= bytes);
  const memory = spare >= 0 ? spareMemory.splice(spare, 1)[0] : Buffer.allocUnsafeSlow(Math.ceil(bytes / 65536) * 65536);
  const leased = leases.get(topicData);
  if (leased) leased.push(memory);
  else leases.set(topicData, [memory]);
  return memory;
}

/**
 * The broker answered the Produce request of `topicData`: it had received all of it, so its memory
 * can be written again. Only an answered request's: one that failed may still wait in a socket.
 */
export function releaseRequestMemory(topicData: object): void {
  for (const memory of leases.get(topicData) ?? []) if (spareMemory.length < MAX_SPARE) spareMemory.push(memory);
  leases.delete(topicData);
}

type RequestFactory = (args: ProduceRequestArgs) => { encode: () => Promise<KafkajsEncoder> };

/** A drop-in for kafkajs's produce v3 request module. */
export function produceRequest(kafkajsRequest: RequestFactory): RequestFactory {
  return (args) => {
    const request = kafkajsRequest(args);
    if (needsKafkajs(args)) return request;
    return { ...request, encode: async () => encodeFast(args) };
  };
}

/**
 * Puts the encoder in place of kafkajs's produce request in Node's module cache; like
 * installLinearGrouping, it must run before kafkajs first loads the module (the producer thread's first import).
 */
export function installProduceRequestEncoder(): void {
  const path = require.resolve(V3_REQUEST);
  const kafkajsRequest = require(path) as RequestFactory & { fast?: true };
  if (kafkajsRequest.fast) return;
  require.cache[path]!.exports = Object.assign(produceRequest(kafkajsRequest), { fast: true });
}
