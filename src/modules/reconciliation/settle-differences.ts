import type { AppliedState, PositionProbe } from '../projection/applied-position';
import { diffRows, type ComparisonReader, type Difference, type RowDigest } from './bucket-comparison';

export interface SettleOptions {
  /** How long to wait, in all, for a projection that is behind the source to catch up. */
  budgetMs: number;
  /** How often the position is checked while waiting. */
  pollMs: number;
}

export interface SettledDifferences {
  /** The differences that stand. */
  open: Difference[];
  rounds: number;
  /** Where the projection stood at the last round; `pending` means the budget ran out while it was behind. */
  state: AppliedState;
  detail: string;
}

const sameRow = (a: RowDigest | undefined, b: RowDigest | undefined) => a?.hash === b?.hash;

/**
 * Settles the differences a comparison found by position, not by the clock. Each round reads the
 * differing rows from the source, marks the source position after that read, waits only while the
 * projection is behind that position, then reads the target rows. A difference that is still there
 * once the target holds every change up to the mark is real, unless the source row changed since it
 * was read (then the target may hold the newer version, and another round decides). With nothing in
 * flight (the usual case, and always during a cutover) that is one round and no waiting.
 */
export async function settleDifferences(
  differences: Difference[],
  source: ComparisonReader,
  target: ComparisonReader,
  probe: PositionProbe,
  options: SettleOptions,
): Promise<SettledDifferences> {
  const deadline = Date.now() + options.budgetMs;
  let open = differences;
  let rounds = 0;
  let position: { state: AppliedState; detail: string } = { state: 'applied', detail: 'no differences' };
  while (open.length > 0) {
    rounds++;
    const keys = open.map((d) => d.key);
    const sourceRows = await source.rowsByKey(keys);
    const mark = await probe.mark();
    position = await probe.state(mark);
    while (position.state === 'pending' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, options.pollMs));
      position = await probe.state(mark);
    }
    open = diffRows(sourceRows, await target.rowsByKey(keys)).differences;
    if (open.length === 0 || position.state === 'pending') break;
    const again = await source.rowsByKey(open.map((d) => d.key));
    const changed = open.some((d) => !sameRow(sourceRows.get(d.key), again.get(d.key)));
    if (!changed || Date.now() >= deadline) break;
  }
  return { open, rounds, ...position };
}
