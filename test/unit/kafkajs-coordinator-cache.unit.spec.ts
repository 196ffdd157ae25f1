import { installCoordinatorCache } from '../../src/connectors/kafka/kafkajs-coordinator-cache';

// kafkajs's Cluster, whose findGroupCoordinator every transaction request goes through.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Cluster = require('kafkajs/src/cluster') as { prototype: object };

/** A cluster whose coordinator for every group is `coordinator.nodeId`; counts FindCoordinator requests. */
function fakeCluster(coordinator: { nodeId: number }) {
  const brokers = new Map(
    [1, 2].map((nodeId) => [nodeId, { nodeId, endTxn: jest.fn(async () => (coordinator.nodeId === nodeId ? {} : Promise.reject(Object.assign(new Error('not coordinator'), { type: 'NOT_COORDINATOR' })))) }]),
  );
  const cluster = Object.assign(Object.create(Cluster.prototype), {
    lookups: 0,
    retrier: (work: (bail: (e: Error) => never) => Promise<unknown>) => work((error) => { throw error; }),
    logger: { debug: () => undefined },
    async findGroupCoordinatorMetadata() {
      cluster.lookups += 1;
      return { coordinator: { nodeId: coordinator.nodeId } };
    },
    async findBroker({ nodeId }: { nodeId: number }) {
      return brokers.get(nodeId)!;
    },
  });
  return cluster as { lookups: number; findGroupCoordinator(query: { groupId: string; coordinatorType?: number }): Promise<{ nodeId: number; endTxn(): Promise<unknown> }> };
}

describe('kafkajs coordinator cache', () => {
  beforeAll(() => installCoordinatorCache());

  it('asks for a transaction coordinator once, not before every request of every transaction', async () => {
    const cluster = fakeCluster({ nodeId: 1 });
    for (let i = 0; i < 5; i++) await (await cluster.findGroupCoordinator({ groupId: 'tx', coordinatorType: 1 })).endTxn();
    expect(cluster.lookups).toBe(1);
    await cluster.findGroupCoordinator({ groupId: 'state-group', coordinatorType: 0 });
    expect(cluster.lookups).toBe(2); // another group, or another kind of coordinator, is asked for on its own
  });

  it('asks again once a request to the remembered coordinator failed (the coordinator moved)', async () => {
    const coordinator = { nodeId: 1 };
    const cluster = fakeCluster(coordinator);
    await (await cluster.findGroupCoordinator({ groupId: 'tx', coordinatorType: 1 })).endTxn();
    coordinator.nodeId = 2;
    const stale = await cluster.findGroupCoordinator({ groupId: 'tx', coordinatorType: 1 });
    expect(stale.nodeId).toBe(1);
    await expect(stale.endTxn()).rejects.toMatchObject({ type: 'NOT_COORDINATOR' });
    const moved = await cluster.findGroupCoordinator({ groupId: 'tx', coordinatorType: 1 });
    expect(moved.nodeId).toBe(2);
    await expect(moved.endTxn()).resolves.toEqual({});
    expect(cluster.lookups).toBe(2);
  });
});
