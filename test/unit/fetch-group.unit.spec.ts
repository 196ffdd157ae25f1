import { FetchGroups } from '../../src/connectors/kafka/fetch-group';

describe('FetchGroups: the partition batches of one fetch reach the owner together', () => {
  it('hands batches added in the same turn of the event loop over in one call', async () => {
    const calls: string[][] = [];
    const groups = new FetchGroups<string>(async (items) => {
      calls.push(items);
    });
    await Promise.all(['p0', 'p1', 'p2'].map((batch) => groups.add(batch)));
    await groups.add('p0 again');
    expect(calls).toEqual([['p0', 'p1', 'p2'], ['p0 again']]);
  });

  it('never runs two calls at once: batches arriving during a call wait and go together in the next', async () => {
    let running = 0;
    let overlapped = false;
    let release!: () => void;
    const firstHeld = new Promise<void>((resolve) => (release = resolve));
    const calls: string[][] = [];
    const groups = new FetchGroups<string>(async (items) => {
      running++;
      overlapped ||= running > 1;
      calls.push(items);
      if (items.includes('first')) await firstHeld;
      running--;
    });
    const first = groups.add('first');
    while (calls.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const later = [groups.add('second'), new Promise<void>((resolve) => setImmediate(resolve)).then(() => groups.add('third'))];
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([['first']]);
    release();
    await Promise.all([first, ...later]);
    expect(overlapped).toBe(false);
    expect(calls).toEqual([['first'], ['second', 'third']]);
  });

  it('fails every batch of a call that fails, and goes on with the next group', async () => {
    const groups = new FetchGroups<string>(async (items) => {
      if (items.includes('bad')) throw new Error('target refused');
    });
    const results = await Promise.allSettled([groups.add('good'), groups.add('bad')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(groups.add('next')).resolves.toBeUndefined();
  });
});
