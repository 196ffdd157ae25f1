/** Resolves after the current turn of the event loop (and its promise callbacks) has run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Group<T> {
  items: T[];
  done: Promise<void>;
}

/**
 * Gathers the partition batches of one fetch into one call of `handle`, and runs those calls one
 * after another. With partitions consumed concurrently, kafkajs hands every partition batch of a
 * fetch to eachBatch in the same turn of the event loop and fetches again only once all of them
 * are handled: gathering until the next turn collects the whole fetch, so its owner can apply it
 * in one target transaction instead of one per partition, one after the other. Calls never
 * overlap (a second fetcher's batches wait for the call in progress, and join the next), so two
 * target transactions of one owner never compete for the same rows.
 */
export class FetchGroups<T> {
  private open: Group<T> | null = null;
  private previous: Promise<void> = Promise.resolve();

  constructor(private readonly handle: (items: T[]) => Promise<void>) {}

  /** Adds `item` to the group being gathered; resolves (or rejects) when that group is handled. */
  add(item: T): Promise<void> {
    const group = this.open ?? this.startGroup();
    group.items.push(item);
    return group.done;
  }

  private startGroup(): Group<T> {
    const group: Group<T> = { items: [], done: Promise.resolve() };
    group.done = Promise.all([this.previous, nextTurn()]).then(() => {
      if (this.open === group) this.open = null;
      return this.handle(group.items);
    });
    this.previous = group.done.catch(() => undefined);
    this.open = group;
    return group;
  }
}
