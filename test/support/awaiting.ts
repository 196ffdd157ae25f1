/**
 * What the running test is waiting for, so that a test or hook that outlives jest's timeout fails
 * naming it (timeout-environment.ts) instead of with a bare "Exceeded timeout". The registry lives on
 * the test file's global, which the environment reads.
 */
export interface AwaitedCondition {
  what: string;
  since: number;
}

const REGISTRY = '__tandemAwaiting';

export function awaitedConditions(global: object): Set<AwaitedCondition> {
  const holder = global as Record<string, Set<AwaitedCondition> | undefined>;
  return (holder[REGISTRY] ??= new Set());
}

/** `work`, registered as awaited under `what` until it settles. */
export function awaiting<T>(what: string, work: Promise<T>): Promise<T> {
  const entry = { what, since: Date.now() };
  const conditions = awaitedConditions(globalThis);
  conditions.add(entry);
  return work.finally(() => conditions.delete(entry));
}
