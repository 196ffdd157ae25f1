/** Coordinator errors a fresh broker answers while its internal topics load; they pass by themselves. */
const TRANSIENT = /coordinator|loading|not available|leader|ECONNREFUSED/i;

export async function retryTransient<T>(work: () => Promise<T>, attempts = 30, delayMs = 500): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const retriable =
        (error as { retriable?: boolean }).retriable === true || TRANSIENT.test((error as Error).message);
      if (!retriable || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** kafkajs marks retriable protocol errors; coordinator errors of a starting broker say so in words. */
export function isRetriable(error: unknown): boolean {
  return (error as { retriable?: boolean }).retriable === true || TRANSIENT.test((error as Error).message);
}
