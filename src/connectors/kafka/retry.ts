/** Coordinator errors a fresh broker answers while its internal topics load; they pass by themselves. */
const TRANSIENT =
  /coordinator|loading|not available|leader|ECONNREFUSED|ECONNRESET|Connection (error|timeout|closed)|timed out|concurrent/i;

export async function retryTransient<T>(work: () => Promise<T>, attempts = 30, delayMs = 500): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetriable(error) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * kafkajs marks retriable protocol errors; coordinator errors of a starting broker say so in words.
 * kafkajs wraps the error that made it give up (retries exhausted) in one that is not retriable
 * itself: its cause decides.
 */
export function isRetriable(error: unknown): boolean {
  return causes(error).some(
    (e) => (e as { retriable?: unknown }).retriable === true || TRANSIENT.test(String(e.message ?? '')),
  );
}

/** Errors of a transaction that a new producer epoch recovers from (the way Java clients bump it). */
const PRODUCER_STATE = ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_TXN_STATE'];

/** Whether a transaction that failed with `error` is worth running again with a new producer. */
export function isRerunnable(error: unknown): boolean {
  return !isFenced(error) && (isRetriable(error) || causes(error).some((e) => PRODUCER_STATE.includes(String(e.type))));
}

/** A producer whose epoch is no longer the coordinator's (another producer took over): never retried. */
export function isFenced(error: unknown): boolean {
  return causes(error).some(
    (e) => e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || /fenced|old epoch/i.test(String(e.message ?? '')),
  );
}

function causes(error: unknown): Array<{ type?: unknown; message?: unknown }> {
  const chain: Array<{ type?: unknown; message?: unknown; cause?: unknown }> = [];
  for (let e = error as (typeof chain)[number] | undefined; e && chain.length < 5; e = e.cause as typeof e) chain.push(e);
  return chain;
}
