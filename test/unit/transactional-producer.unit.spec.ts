import type { Kafka } from 'kafkajs';
import { TransactionalProducer } from '../../src/connectors/kafka/transactional-producer';

/** A kafkajs producer whose transactions record what happened and fail where told to. */
function fakeKafka(failures: { sendOffsets?: Error[]; commit?: Error[]; abort?: Error[] }) {
  const log: string[] = [];
  const transaction = () => {
    const attempt = log.filter((line) => line === 'begin').length;
    log.push('begin');
    return {
      sendBatch: async ({ topicMessages }: { topicMessages: Array<{ messages: unknown[] }> }) => {
        log.push(`batch ${topicMessages.reduce((n, t) => n + t.messages.length, 0)}`);
      },
      send: async () => {
        log.push('position');
        return [{ baseOffset: String(attempt * 2) }];
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
        const error = failures.abort?.shift();
        if (error) throw error;
        log.push('abort');
      },
    };
  };
  const kafka = { producer: () => ({ transaction: async () => transaction() }) } as unknown as Kafka;
  return { kafka, log };
}

const retriable = () =>
  Object.assign(new Error('This is not the correct coordinator for this group'), { retriable: true });
const records = [{ topic: 't', key: 'k', value: 'v' }];
const position = { topic: 'p', key: 'capture', value: '{}', groupId: 'g' };

describe('TransactionalProducer.commit', () => {
  it('aborts and runs the transaction again after a retriable error before the commit request', async () => {
    const { kafka, log } = fakeKafka({ sendOffsets: [retriable()] });
    const progress: number[] = [];
    await new TransactionalProducer(kafka, 'tx').commit(records, position, (sent) => progress.push(sent));
    expect(log).toEqual([
      'begin',
      'batch 1',
      'position',
      'abort',
      'begin',
      'batch 1',
      'position',
      'offsets',
      'commit',
    ]);
    expect(progress).toEqual([1]); // each record reported once, however many attempts
  });

  it('never repeats a commit request that failed: the commit may have happened', async () => {
    const { kafka, log } = fakeKafka({ commit: [retriable()] });
    await expect(new TransactionalProducer(kafka, 'tx').commit(records, position)).rejects.toThrow(
      /coordinator/,
    );
    expect(log.filter((line) => line === 'begin')).toHaveLength(1);
    expect(log).not.toContain('abort');
  });

  it('gives up on an error that is not retriable, after aborting', async () => {
    const { kafka, log } = fakeKafka({ sendOffsets: [new Error('producer fenced')] });
    await expect(new TransactionalProducer(kafka, 'tx').commit(records, position)).rejects.toThrow(
      'producer fenced',
    );
    expect(log).toEqual(['begin', 'batch 1', 'position', 'abort']);
  });

  it('reports the original error when the transaction could not be aborted (the broker went away)', async () => {
    const { kafka, log } = fakeKafka({ sendOffsets: [retriable()], abort: [new Error('Connection error')] });
    await expect(new TransactionalProducer(kafka, 'tx').commit(records, position)).rejects.toThrow(
      /coordinator/,
    );
    expect(log.filter((line) => line === 'begin')).toHaveLength(1);
  });

  it('gives up after five attempts of retriable errors', async () => {
    const { kafka, log } = fakeKafka({ sendOffsets: Array.from({ length: 9 }, retriable) });
    await expect(new TransactionalProducer(kafka, 'tx').commit(records, position)).rejects.toThrow(
      /coordinator/,
    );
    expect(log.filter((line) => line === 'begin')).toHaveLength(5);
  });
});
