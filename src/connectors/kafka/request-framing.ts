/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * kafkajs's request framing (size, api key and version, correlation id, client id, payload), written
 * into one buffer of the exact size. kafkajs copies the payload into a 512-byte Encoder that doubles
 * (zero-filled) until it fits, then all of that again into a second one: for a 2 MB produce request
 * about 16 MB of allocation and copies, the largest cost left on capture's producer thread after
 * produce-request-encoder.ts, whose requests leave room in front for the header, written there without
 * copying the request. Same bytes as kafkajs (test/unit/produce-request-encoder.unit.spec.ts).
 */

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
}

interface FramingArgs {
  correlationId: number;
  clientId: string | null;
  request: { apiKey: number; apiVersion: number; encode: () => Promise<KafkajsEncoder> };
}

const REQUEST = 'kafkajs/src/protocol/request';
const Encoder = require('kafkajs/src/protocol/encoder') as new (size?: number) => KafkajsEncoder;

export async function frameRequest({ correlationId, clientId, request }: FramingArgs): Promise<KafkajsEncoder> {
  const payload = (await request.encode()).buffer;
  const clientIdBytes = clientId == null ? 0 : Buffer.byteLength(clientId, 'utf8');
  const headerSize = 4 + 2 + 2 + 4 + 2 + clientIdBytes;
  const size = headerSize - 4 + payload.length;
  // A request encoded by produce-request-encoder.ts has room for the header in front of it: no copy.
  const inPlace = roomBefore.get(payload.buffer) === payload.byteOffset && payload.byteOffset >= headerSize;
  const buf = inPlace
    ? Buffer.from(payload.buffer, payload.byteOffset - headerSize, headerSize + payload.length)
    : Buffer.allocUnsafe(headerSize + payload.length);
  let offset = buf.writeInt32BE(size, 0);
  offset = buf.writeInt16BE(request.apiKey, offset);
  offset = buf.writeInt16BE(request.apiVersion, offset);
  offset = buf.writeInt32BE(correlationId, offset);
  offset = buf.writeInt16BE(clientId == null ? -1 : clientIdBytes, offset);
  if (clientId != null) offset += buf.write(clientId, offset, clientIdBytes, 'utf8');
  if (!inPlace) payload.copy(buf, offset);
  const encoder = new Encoder(0);
  encoder.buf = buf;
  encoder.offset = buf.length;
  return encoder;
}

/** Memory of its own whose bytes before a request at this offset are free for the request's header. */
const roomBefore = new WeakMap<ArrayBufferLike, number>();

/** Says that `request` (a view of memory of its own) has all of that memory before it free for the header. */
export function leaveRoomForFraming(request: Buffer): void {
  roomBefore.set(request.buffer, request.byteOffset);
}

/** Puts frameRequest in place of kafkajs's; it must run before kafkajs's connection module loads. */
export function installRequestFraming(): void {
  const path = require.resolve(REQUEST);
  require(path);
  require.cache[path]!.exports = frameRequest;
}
