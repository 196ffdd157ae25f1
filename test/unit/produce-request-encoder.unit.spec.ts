import { randomBytes } from 'crypto';
import { crc32c } from '../../src/connectors/kafka/crc32c';
import { produceRequest, releaseRequestMemory, type ProduceRequestArgs } from '../../src/connectors/kafka/produce-request-encoder';
import { frameRequest } from '../../src/connectors/kafka/request-framing';

// kafkajs's own code is the reference: the broker must receive the same bytes as before.
/* eslint-disable @typescript-eslint/no-require-imports */
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const kafkajsRequest = require('kafkajs/src/protocol/requests/produce/v3/request');
const kafkajsFraming = require('kafkajs/src/protocol/request');
const Long = require('kafkajs/src/utils/long');
/* eslint-enable @typescript-eslint/no-require-imports */

type Request = { encode: () => Promise<{ buffer: Buffer }> };

/** Whether both requests encode to the same bytes (Buffer.equals: jest's deep equality is slow on megabytes). */
async function sameBytes(a: Request, b: Request): Promise<boolean> {
  const [x, y] = [(await a.encode()).buffer, (await b.encode()).buffer];
  return x.length > 0 && x.equals(y);
}

const fast = produceRequest(kafkajsRequest);
const text = (n: number) => randomBytes(n).toString('base64').slice(0, n);

function args(overrides: Partial<ProduceRequestArgs> = {}): ProduceRequestArgs {
  return {
    acks: -1,
    timeout: 30000,
    transactionalId: 'tandem-capture.prefix.slot',
    producerId: '1234567890123', // as kafkajs's transaction manager keeps it
    producerEpoch: 7,
    topicData: [
      {
        topic: 'prefix.public.orders',
        partitions: [
          {
            partition: 0,
            firstSequence: 41,
            messages: Array.from({ length: 300 }, (_, i) => ({
              key: i % 50 === 0 ? null : `{"id":${i}}`,
              value: i % 70 === 0 ? null : `{"after":{"note":"${text(i * 7)}","ü":"✓ ${i}"}}`,
            })),
          },
          { partition: 2, firstSequence: 0, messages: [{ key: Buffer.from([0, 1, 2]), value: randomBytes(20_000) }] },
        ],
      },
      { topic: 'prefix.transaction', partitions: [{ partition: 1, messages: [{ value: '{"status":"END"}' }] }] },
    ],
    ...overrides,
  };
}

describe('produce request encoder', () => {
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(1_764_900_000_123));
  afterEach(() => jest.restoreAllMocks());

  it('CRC-32C equals kafkajs’s for every length and alignment', () => {
    for (let length = 0; length < 300; length++) {
      const bytes = randomBytes(length + 3);
      for (const start of [0, 1, 3])
        expect(crc32c(bytes, start, start + length)).toBe(kafkajsCrc32c(bytes.subarray(start, start + length)));
    }
  });

  it('encodes a transactional request with the same bytes as kafkajs', async () => {
    const a = args();
    expect(await sameBytes(fast(a), kafkajsRequest(a))).toBe(true);
  });

  it('encodes a non-transactional request, an empty partition and large offset deltas the same', async () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({ key: String(i), value: 'v'.repeat(i % 200) }));
    const a = args({
      transactionalId: null,
      producerId: Long.fromValue(-1),
      producerEpoch: undefined,
      topicData: [{ topic: 't', partitions: [{ partition: 5, messages: many }, { partition: 6, messages: [] }] }],
    });
    expect(await sameBytes(fast(a), kafkajsRequest(a))).toBe(true);
  });

  it('leaves compression, timestamps and headers to kafkajs', async () => {
    const withTimestamp = args({ topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'x', timestamp: 5 }] }] }] });
    const withHeaders = args({ topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'x', headers: { h: 'v' } }] }] }] });
    const gzip = { ...args(), compression: 1 };
    for (const a of [withTimestamp, withHeaders, gzip]) expect(await sameBytes(fast(a), kafkajsRequest(a))).toBe(true);
  });

  it('frames a request (size, api key and version, correlation id, client id) the same as kafkajs', async () => {
    // Tandem's requests are framed in the room left before them; a long client id or kafkajs's own request is copied.
    for (const clientId of ['tandem-capture', 'ünïcödé ✓', null, 'c'.repeat(300)])
      for (const encoder of [fast, kafkajsRequest]) {
        const request = { ...encoder(args()), apiKey: 0, apiVersion: 7 };
        const framing = { correlationId: 123456, clientId, request };
        expect(await sameBytes({ encode: () => frameRequest(framing as never) }, { encode: () => kafkajsFraming(framing) })).toBe(true);
      }
  });

  it('writes a request into the memory of an answered one, never of one still unanswered', async () => {
    const first = args();
    const firstBytes = (await fast(first).encode()).buffer;
    const sent = Buffer.from(firstBytes);
    const second = args({ producerEpoch: 8 });
    const secondBytes = (await fast(second).encode()).buffer;
    expect(secondBytes.buffer).not.toBe(firstBytes.buffer);
    expect(firstBytes.equals(sent)).toBe(true); // unanswered: untouched

    releaseRequestMemory(first.topicData);
    const third = args({ producerEpoch: 9, transactionalId: 'another' });
    const thirdBytes = (await fast(third).encode()).buffer;
    expect(thirdBytes.buffer).toBe(firstBytes.buffer);
    expect(await sameBytes({ encode: async () => ({ buffer: thirdBytes }) }, kafkajsRequest(third))).toBe(true);
    expect(secondBytes.equals((await kafkajsRequest(second).encode()).buffer)).toBe(true);
  });
});
