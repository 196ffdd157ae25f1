import { addPartitionsPromptly } from '../../src/connectors/kafka/add-partitions';

const concurrent = () => Object.assign(new Error('CONCURRENT_TRANSACTIONS'), { type: 'CONCURRENT_TRANSACTIONS', retriable: true });

describe('AddPartitionsToTxn while the coordinator finishes the previous commit', () => {
  it('asks again until the coordinator accepts', async () => {
    let calls = 0;
    await addPartitionsPromptly(async () => {
      if (++calls < 4) throw concurrent();
    });
    expect(calls).toBe(4);
  });

  it('passes any other error on at once (the produce path decides about it)', async () => {
    let calls = 0;
    const error = Object.assign(new Error('Not coordinator'), { type: 'NOT_COORDINATOR', retriable: true });
    await expect(
      addPartitionsPromptly(async () => {
        calls++;
        throw error;
      }),
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });

  it('hands CONCURRENT_TRANSACTIONS on once its budget is spent (a coordinator that is stuck)', async () => {
    let calls = 0;
    await expect(
      addPartitionsPromptly(async () => {
        calls++;
        throw concurrent();
      }, 20),
    ).rejects.toMatchObject({ type: 'CONCURRENT_TRANSACTIONS' });
    expect(calls).toBeGreaterThan(1);
  });
});
