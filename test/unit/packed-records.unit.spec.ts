import { MessageChannel, type MessagePort } from 'worker_threads';
import { memoryOf, PackedRecords, unpackRecords, type PackedRecordsMessage } from '../../src/connectors/kafka/packed-records';
import { commitMessage, recordsOf } from '../../src/connectors/kafka/producer-thread-protocol';
import { murmur2 } from '../../src/connectors/kafka/key-hash-partitioner';
import { produceRequest } from '../../src/connectors/kafka/produce-request-encoder';
import type { ProducedRecord } from '../../src/contracts/positions';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsRequest = require('kafkajs/src/protocol/requests/produce/v3/request');

const records: ProducedRecord[] = [
  { topic: 'p.public.orders', key: '{"id":1}', value: '{"after":{"note":"plain"}}' },
  { topic: 'p.public.orders', key: '{"id":"ü✓😀"}', value: `{"after":{"note":"${'é'.repeat(40_000)}"}}` }, // grows the buffer
  { topic: 'p.public.orders', key: '{"id":3}', value: null }, // a tombstone
  { topic: 'p.transaction', key: null, value: '{"status":"BEGIN"}' },
  { topic: 'p.public.orders', key: null, value: '', partition: 2 }, // an empty value is not null
  { topic: 'p.public.items', key: '', value: '{}', partition: 0 },
];

const asText = (bytes: string | Buffer | null) => (bytes === null ? null : Buffer.isBuffer(bytes) ? bytes.toString('utf8') : bytes);

/** A message as the producer thread receives it: through a real port, with its buffers transferred. */
async function throughPort(message: PackedRecordsMessage, transfer: ArrayBuffer[]): Promise<PackedRecordsMessage> {
  const { port1, port2 }: { port1: MessagePort; port2: MessagePort } = new MessageChannel();
  try {
    const received = new Promise<PackedRecordsMessage>((resolve) => port2.once('message', resolve));
    port1.postMessage(message, transfer);
    return await received;
  } finally {
    port1.close();
    port2.close();
  }
}

describe('packed records', () => {
  it('reach the producer thread with the same topics, partitions, keys and values, as UTF-8', async () => {
    const packed = new PackedRecords(16, 1); // smaller than the records: index and bytes both grow
    for (const record of records) packed.push(record);
    expect(packed.length).toBe(records.length);
    const { message, transfer } = packed.transfer();
    const received = unpackRecords(await throughPort(message, transfer));
    expect(received.map((r) => ({ ...r, key: asText(r.key), value: asText(r.value) }))).toEqual(records);
    expect(received[1].value!.length).toBe(Buffer.byteLength(records[1].value!, 'utf8'));
  });

  it('transfer the batch instead of copying it: the sender keeps nothing', () => {
    const packed = PackedRecords.of(records);
    const { transfer } = commitMessage(1, packed);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(null, transfer);
    port1.close();
    port2.close();
    expect(transfer.every((buffer) => (buffer as ArrayBuffer).byteLength === 0)).toBe(true);
  });

  it('partition and encode as the strings would: the broker receives the same bytes', async () => {
    const { request } = commitMessage(1, records);
    const unpacked = recordsOf(request as Extract<typeof request, { kind: 'commit' }>);
    for (let i = 0; i < records.length; i++) {
      if (records[i].key !== null) expect(murmur2(unpacked[i].key as Buffer)).toBe(murmur2(records[i].key!));
    }
    const encode = (messages: Array<{ key: string | Buffer | null; value: string | Buffer | null }>) =>
      produceRequest(kafkajsRequest)({
        acks: -1,
        timeout: 30000,
        transactionalId: 't',
        producerId: '42',
        producerEpoch: 1,
        topicData: [{ topic: 'p.public.orders', partitions: [{ partition: 0, firstSequence: 0, messages }] }],
      }).encode();
    jest.spyOn(Date, 'now').mockReturnValue(1_764_900_000_123);
    try {
      const fromStrings = (await encode(records)).buffer;
      const fromBytes = (await encode(unpacked)).buffer;
      expect(fromBytes.equals(fromStrings)).toBe(true);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('a batch built in the memory of one the producer thread gave back holds only its own records', async () => {
    const { message, transfer } = PackedRecords.of(records).transfer();
    PackedRecords.recycle(memoryOf(await throughPort(message, transfer)));
    const next = new PackedRecords();
    next.push({ topic: 't', key: 'k', value: 'v' });
    const received = unpackRecords(next.transfer().message);
    expect(received.map((r) => [r.topic, asText(r.key), asText(r.value)])).toEqual([['t', 'k', 'v']]);
  });
});
