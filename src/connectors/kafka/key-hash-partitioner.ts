import { randomInt } from 'crypto';
import type { ICustomPartitioner } from 'kafkajs';

/**
 * Kafka's murmur2 (as the Java client and Debezium partition by key), on 32-bit integers. kafkajs's
 * own copy emulates 64-bit longs with objects and cost about 8 % of capture's producer thread.
 */
let scratch = Buffer.allocUnsafe(4096); // a string key's UTF-8 bytes, without a Buffer per record

export function murmur2(key: string | Buffer): number {
  let data = key as Buffer;
  let length = data.length;
  if (typeof key === 'string') {
    length = Buffer.byteLength(key, 'utf8');
    if (length > scratch.length) scratch = Buffer.allocUnsafe(length);
    scratch.write(key, 0, length, 'utf8');
    data = scratch;
  }
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2] << 16;
    // falls through
    case 2:
      h ^= data[tail + 1] << 8;
    // falls through
    case 1:
      h ^= data[tail];
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * kafkajs's DefaultPartitioner, the same choices: the record's own partition when it has one, else
 * murmur2 of the key modulo the partition count, else round robin over the partitions with a leader.
 */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) {
      return (murmur2(message.key) & 0x7fffffff) % partitionMetadata.length;
    }
    const available = partitionMetadata.filter((partition) => partition.leader >= 0);
    const next = (counters.get(topic) ?? randomInt(0x7fffffff)) + 1;
    counters.set(topic, next);
    const candidates = available.length > 0 ? available : partitionMetadata;
    return candidates[(next & 0x7fffffff) % candidates.length].partitionId;
  };
};
