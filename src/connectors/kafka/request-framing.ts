/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * kafkajs's request framing (size, api key and version, correlation id, client id, payload), written
 * into one buffer of the exact size. kafkajs copies the payload into a 512-byte Encoder that doubles
 * (zero-filled) until it fits, then all of that again into a second one: for a 2 MB produce request
 * about 16 MB of allocation and copies, the largest cost left on capture's producer thread after
 * produce-request-encoder.ts. Same bytes as kafkajs (test/unit/produce-request-encoder.unit.spec.ts).
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
  const size = 2 + 2 + 4 + 2 + clientIdBytes + payload.length;
  const buf = Buffer.allocUnsafe(4 + size);
  let offset = buf.writeInt32BE(size, 0);
  offset = buf.writeInt16BE(request.apiKey, offset);
  offset = buf.writeInt16BE(request.apiVersion, offset);
  offset = buf.writeInt32BE(correlationId, offset);
  offset = buf.writeInt16BE(clientId == null ? -1 : clientIdBytes, offset);
  if (clientId != null) offset += buf.write(clientId, offset, clientIdBytes, 'utf8');
  payload.copy(buf, offset);
  const encoder = new Encoder(0);
  encoder.buf = buf;
  encoder.offset = buf.length;
  return encoder;
}

/** Puts frameRequest in place of kafkajs's; it must run before kafkajs's connection module loads. */
export function installRequestFraming(): void {
  const path = require.resolve(REQUEST);
  require(path);
  require.cache[path]!.exports = frameRequest;
}
