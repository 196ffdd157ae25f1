import '../../src/connectors/kafka/kafkajs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Connection = require('kafkajs/src/network/connection');

/** A kafkajs connection's receiving side only, as it is after connecting. */
function receivingConnection(delivered: Buffer[]) {
  const connection = Object.create(Connection.prototype);
  Object.assign(connection, {
    authHandlers: null,
    chunks: [],
    bytesBuffered: 0,
    bytesNeeded: 4,
    requestQueue: { fulfillRequest: ({ payload }: { payload: Buffer }) => delivered.push(payload) },
  });
  return connection;
}

/** One Kafka response on the wire: its size, its correlation id, then the payload. */
function response(correlationId: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(4 + payload.length, 0);
  head.writeInt32BE(correlationId, 4);
  return Buffer.concat([head, payload]);
}

describe('kafkajs response buffers', () => {
  it('keeps no view on a handled response while waiting for the next one', () => {
    const delivered: Buffer[] = [];
    const connection = receivingConnection(delivered);
    const wire = response(1, Buffer.alloc(1 << 20, 7));
    connection.processData(wire.subarray(0, 1000));
    connection.processData(wire.subarray(1000));
    expect(delivered).toHaveLength(1);
    expect(delivered[0].length).toBe(1 << 20);
    for (const chunk of connection.chunks as Buffer[]) expect(chunk.buffer.byteLength).toBeLessThan(1 << 20);
  });

  it('still reads a response that starts in the chunk ending the previous one', () => {
    const delivered: Buffer[] = [];
    const connection = receivingConnection(delivered);
    const wire = Buffer.concat([response(1, Buffer.from('first')), response(2, Buffer.from('second'))]);
    connection.processData(wire.subarray(0, 15));
    connection.processData(wire.subarray(15));
    expect(delivered.map((payload) => payload.toString())).toEqual(['first', 'second']);
  });
});
