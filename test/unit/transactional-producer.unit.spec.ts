import type { Kafka } from 'kafkajs';
import { TransactionalProducer } from '../../src/connectors/kafka/transactional-producer';

interface Failures {
  sendOffsets?: Error[];
  commit?: Error[];
}

/**
 * kafkajs producers whose transactions record what happened and fail where told to; every producer
 * made after the first is a fence (a new epoch). The admin answers the position group's offset.
 */
function fakeKafka(failures: Failures, committedOffset: () => string = () => '-1') {
  const log: string[] = [];
  let attempt = 0;
  const producer = () => {
    log.push('new producer');
    return {
      connect: async () => undefined,
      disconnect: async () => undefined,
      transaction: async () => {
        const fence = !log.includes('fenced') || log.at(-1) === 'new producer';
        if (fence) log.push('fenced');
        let sent = false;
        return {
          sendBatch: async ({ topicMessages }: { topicMessages: Array<{ topic: string; messages: unknown[] }> }) => {
            sent = true;
            const records = topicMessages.filter((t) => t.topic !== 'p');
            if (records.length > 0) log.push(`batch ${records.reduce((n, t) => n + t.messages.length, 0)}`);
            if (records.length === topicMessages.length) return [];
            log.push('position');
            return [{ topicName: 'p', partition: 0, baseOffset: String(++attempt * 2) }];
          },
          sendOffsets: async () => {
            const error = failures.sendOffsets?.shift();
            if (error) throw error;
            log.push('offsets');
          },
          commit: async () => {
            const error = failures.commit?.shift();
            if (error) throw error;
            log.push('commit');
          },
          abort: async () => {
            if (sent) log.push('abort');
          },
        };
      },
    };
  };
  const admin = () => ({
    connect: async () => undefined,
    disconnect: async () => undefined,
    fetchOffsets: async () => {
      log.push('read offset');
      return [{ topic: 'p', partitions: [{ partition: 0, offset: committedOffset() }] }];
    },
  });
  return { kafka: { producer, admin } as unknown as Kafka, log };
}

const retriable = () =>
  Object.assign(new Error('This is not the correct coordinator for this group'), { retriable: true });
const connectionLost = () => Object.assign(new Error('Connection error: read ECONNRESET'), { retriable: true });
const records = [{ topic: 't', key: 'k', value: 'v' }];
const position = { topic: 'p', key: 'capture', value: '{}', groupId: 'g' };
const noWait = { budgetMs: 60_000, backoffMs: () => 0 };

async function connected(kafka: Kafka, retry = noWait) {
  const producer = new TransactionalProducer(kafka, 'tx', retry);
  await producer.connect();
  return producer;
}

describe('TransactionalProducer', () => {
  it('fences older producers of its transactional id when it connects, before anything is read back', async () => {
    const { kafka, log } = fakeKafka({});
    await connected(kafka);
    expect(log).toEqual(['new producer', 'fenced']);
  });

  it('runs the transaction again on a new producer (a fence) after a retriable error before the commit request', async () => {
    const { kafka, log } = fakeKafka({ sendOffsets: [retriable()] });
    const producer = await connected(kafka);
    const progress: number[] = [];
    await producer.commit(records, position, (sent) => progress.push(sent));
    expect(log.slice(2)).toEqual([
      'batch 1',
      'position',
      'new producer',
      'fenced',
      'batch 1',
      'position',
      'offsets',
      'commit',
    ]);
    expect(progress).toEqual([1]); // each record reported once, however many attempts
  });

  it('does not repeat a transaction whose commit request failed but which was committed', async () => {
    // The first attempt's position record is at offset 2: committed means the group's offset is 3.
    const { kafka, log } = fakeKafka({ commit: [connectionLost()] }, () => '3');
    const producer = await connected(kafka);
    await producer.commit(records, position);
    expect(log.slice(2)).toEqual(['batch 1', 'position', 'offsets', 'new producer', 'fenced', 'read offset']);
  });

  it('runs again, after a fence, a transaction whose commit request failed and which was not committed', async () => {
    const { kafka, log } = fakeKafka({ commit: [connectionLost()] }, () => '1');
    const producer = await connected(kafka);
    await producer.commit(records, position);
    expect(log.filter((line) => line === 'batch 1')).toHaveLength(2);
    expect(log.slice(-3)).toEqual(['position', 'offsets', 'commit']);
    expect(log.indexOf('read offset')).toBeLessThan(log.lastIndexOf('batch 1'));
  });

  it('keeps going through coordinator moves until they pass instead of giving up', async () => {
    const { kafka, log } = fakeKafka({ sendOffsets: Array.from({ length: 9 }, retriable) });
    const producer = await connected(kafka);
    await producer.commit(records, position);
    expect(log.filter((line) => line === 'fenced')).toHaveLength(10);
    expect(log.at(-1)).toBe('commit');
  });

  it('gives up on retriable errors once its time budget is spent', async () => {
    const { kafka } = fakeKafka({ sendOffsets: [retriable()] });
    const producer = await connected(kafka, { budgetMs: -1, backoffMs: () => 0 });
    await expect(producer.commit(records, position)).rejects.toThrow(/coordinator/);
  });

  it('gives up at once on an error that is not retriable', async () => {
    const { kafka, log } = fakeKafka({ sendOffsets: [new Error('Topic authorization failed')] });
    const producer = await connected(kafka);
    await expect(producer.commit(records, position)).rejects.toThrow('Topic authorization failed');
    expect(log.filter((line) => line === 'new producer')).toHaveLength(1);
  });

  it('stops when another producer fenced it (never takes the transactional id back)', async () => {
    const fenced = Object.assign(new Error('Producer attempted an operation with an old epoch'), {
      type: 'INVALID_PRODUCER_EPOCH',
    });
    const { kafka, log } = fakeKafka({ commit: [fenced] });
    const producer = await connected(kafka);
    await expect(producer.commit(records, position)).rejects.toThrow(/old epoch/);
    expect(log).not.toContain('read offset');
    expect(log.filter((line) => line === 'new producer')).toHaveLength(1);
  });

  it('sends the position record in the last produce request and commits the group offset just after it', async () => {
    const requests: string[][] = [];
    let committedOffset: unknown = null;
    const transaction = {
      sendBatch: async ({ topicMessages }: { topicMessages: Array<{ topic: string; messages: Array<{ value: string }> }> }) => {
        requests.push(topicMessages.flatMap((t) => t.messages.map((m) => `${t.topic}:${m.value.length}`)));
        return topicMessages.map((t) => ({ topicName: t.topic, partition: 0, errorCode: 0, baseOffset: t.topic === 'p' ? '41' : '7' }));
      },
      send: async () => {
        throw new Error('no request of its own for the position');
      },
      sendOffsets: async ({ topics }: { topics: Array<{ partitions: Array<{ offset: string }> }> }) => {
        committedOffset = topics[0].partitions[0].offset;
      },
      commit: async () => undefined,
      abort: async () => undefined,
    };
    const kafka = { producer: () => ({ connect: async () => undefined, transaction: async () => transaction }) } as unknown as Kafka;
    const producer = await connected(kafka);
    // two records of 1.5 MB: two produce requests (at most 2 MB each)
    const big = [{ topic: 't', key: 'a', value: 'x'.repeat(1_500_000) }, { topic: 't', key: 'b', value: 'y'.repeat(1_500_000) }];
    await producer.commit(big, position);
    expect(requests).toEqual([['t:1500000'], ['t:1500000', 'p:2']]);
    expect(committedOffset).toBe('42');
  });
});
