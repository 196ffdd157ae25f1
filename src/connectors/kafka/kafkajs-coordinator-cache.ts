interface Broker {
  nodeId: number;
}

interface CoordinatorQuery {
  groupId: string;
  coordinatorType?: number;
}

interface Cluster {
  findGroupCoordinatorMetadata(query: CoordinatorQuery): Promise<{ coordinator: { nodeId: number } }>;
  findBroker(query: { nodeId: number }): Promise<Broker>;
}

type FindGroupCoordinator = (this: Cluster, query: CoordinatorQuery) => Promise<Broker>;

const CACHE = Symbol('tandem:coordinators');
const MODULE = 'kafkajs/src/cluster';

/**
 * kafkajs 2.2.4 asks the cluster for a coordinator (FindCoordinator) before every request of a
 * transaction: before AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn, so four of a
 * commit's nine sequential round trips only repeat an answer that does not change. This remembers the
 * coordinator's node per group and type, as Java clients do, and forgets it as soon as any request
 * sent to it fails (a coordinator that moved answers NOT_COORDINATOR, one that went away does not
 * answer): kafkajs's retries then ask again. A producer replaced after an error gets a new cluster,
 * so a new cache, too.
 */
export function installCoordinatorCache(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ClusterClass = require(MODULE) as { prototype: Cluster & { findGroupCoordinator: FindGroupCoordinator } };
  const original = ClusterClass.prototype.findGroupCoordinator;
  if ((original as { cached?: boolean }).cached) return;
  const cached: FindGroupCoordinator = async function (this: Cluster, query) {
    const cache = ((this as unknown as Record<symbol, Map<string, number>>)[CACHE] ??= new Map());
    const key = `${query.coordinatorType ?? 0}:${query.groupId}`;
    const nodeId = cache.get(key);
    const broker = nodeId === undefined ? await original.call(this, query) : await this.findBroker({ nodeId });
    cache.set(key, broker.nodeId);
    return forgettingOnFailure(broker, () => cache.delete(key));
  };
  Object.assign(cached, { cached: true });
  ClusterClass.prototype.findGroupCoordinator = cached;
}

/** The broker, with every request that fails also forgetting it as a coordinator. */
function forgettingOnFailure(broker: Broker, forget: () => void): Broker {
  return new Proxy(broker, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          forget();
          throw error;
        });
      };
    },
  });
}
