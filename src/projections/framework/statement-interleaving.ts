import type { SourcedOperation } from '../../connectors/postgres-target/row-writer';
import { signatureOf } from '../../connectors/postgres-target/operation-signature';

/**
 * For projections that declare `interleaveEvents` (see define-projection.ts): orders a batch's
 * operations so that the events of different source keys are applied side by side, statement kind
 * by statement kind, instead of event after event. Each event's own operations keep their order,
 * and events of the same source key stay in order (the second event of a key starts in a later
 * round, after every operation of the first round). A batch of events shaped alike then needs one
 * statement per kind of operation rather than one per operation.
 */
export function interleaveEvents(
  events: SourcedOperation[][],
  sourceKeyOf: (index: number) => string,
): SourcedOperation[] {
  const rounds: SourcedOperation[][][] = [];
  const seen = new Map<string, number>();
  events.forEach((operations, index) => {
    const key = sourceKeyOf(index);
    const round = seen.get(key) ?? 0;
    seen.set(key, round + 1);
    (rounds[round] ??= []).push(operations);
  });
  return rounds.flatMap(mergeRound);
}

/**
 * A common supersequence of the events' operation kinds, built greedily: at each step the kind at
 * the head of most events is taken from all of them (with the operations of that kind that follow
 * it in each event).
 */
function mergeRound(events: SourcedOperation[][]): SourcedOperation[] {
  const queues = events.map((operations) => ({
    operations,
    signatures: operations.map(signatureOf),
    next: 0,
  }));
  const headsByKind = new Map<string, number[]>();
  const enqueueHead = (index: number) => {
    const queue = queues[index];
    if (queue.next >= queue.operations.length) return;
    const kind = queue.signatures[queue.next];
    const heads = headsByKind.get(kind);
    if (heads) heads.push(index);
    else headsByKind.set(kind, [index]);
  };
  queues.forEach((_, index) => enqueueHead(index));

  const merged: SourcedOperation[] = [];
  while (headsByKind.size > 0) {
    let kind = '';
    let heads: number[] = [];
    for (const [candidate, indexes] of headsByKind) {
      if (indexes.length > heads.length || (indexes.length === heads.length && indexes[0] < heads[0])) {
        kind = candidate;
        heads = indexes;
      }
    }
    headsByKind.delete(kind);
    for (const index of heads.sort((a, b) => a - b)) {
      const queue = queues[index];
      while (queue.next < queue.operations.length && queue.signatures[queue.next] === kind)
        merged.push(queue.operations[queue.next++]);
      enqueueHead(index);
    }
  }
  return merged;
}
