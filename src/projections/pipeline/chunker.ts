import type { BatchItem } from '../framework/batch-applier';

/** A source transaction is never split over two target transactions unless it alone exceeds ten chunks. */
const MAX_TRANSACTION_SPLIT = 10;

/** Cuts decoded records into chunks of about `maxEvents`, each one target transaction, at source transaction bounds. */
export function chunkByTransaction(items: BatchItem[], maxEvents: number): BatchItem[][] {
  const transactionOf = (item: BatchItem) =>
    item.decoded.kind === 'apply' ? item.decoded.event.transactionId : null;
  const chunks: BatchItem[][] = [];
  let start = 0;
  while (start < items.length) {
    let end = Math.min(start + maxEvents, items.length);
    const open = transactionOf(items[end - 1]);
    while (
      open !== null &&
      end < items.length &&
      end - start < maxEvents * MAX_TRANSACTION_SPLIT &&
      transactionOf(items[end]) === open
    )
      end++;
    chunks.push(items.slice(start, end));
    start = end;
  }
  return chunks;
}
