/**
 * The transaction coordinator answers AddPartitionsToTxn with CONCURRENT_TRANSACTIONS until it has
 * written the previous transaction's commit markers, which takes a few milliseconds after EndTxn
 * returned. Capture starts its next transaction right away, so that answer is the rule, not the
 * exception: asking again every few milliseconds starts the transaction as soon as the coordinator
 * allows, where kafkajs's general retry (20 ms, doubling, with a metadata refresh and a warning each
 * time) added 20 to 60 ms to every transaction.
 */
const PAUSES_MS = [1, 2, 3, 5, 8];
const MAX_PAUSE_MS = 10;
/** After this long the error goes to the produce path's general retry (a coordinator that is stuck). */
const BUDGET_MS = 2_000;

const isConcurrentTransactions = (error: unknown) =>
  (error as { type?: unknown } | null)?.type === 'CONCURRENT_TRANSACTIONS';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `add` (an AddPartitionsToTxn) again after short pauses while the coordinator answers CONCURRENT_TRANSACTIONS. */
export async function addPartitionsPromptly(add: () => Promise<void>, budgetMs = BUDGET_MS): Promise<void> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await add();
    } catch (error) {
      if (!isConcurrentTransactions(error) || Date.now() - started >= budgetMs) throw error;
      await sleep(PAUSES_MS[attempt] ?? MAX_PAUSE_MS);
    }
  }
}
