import type { Logger } from '../shared/logger';

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

export interface GracefulStop {
  /** Finishes cleanly (flush, acknowledge); the command's run then returns. */
  stop: () => Promise<void>;
  /** What could not be finished in time and what that means, logged before the process exits 0. */
  abandoned: string;
  /** How long `stop` may take; the process then exits 0 whatever is still under way. */
  graceMs: number;
  logger: Logger;
}

/**
 * On SIGTERM or SIGINT, asks the command to stop cleanly. If it has not stopped within `graceMs`
 * (a Kafka transaction held in retries by an unavailable broker, a slot creation waiting for old
 * source transactions), or a second signal comes, the process exits 0 anyway: only what is durable
 * was acknowledged, so whatever was under way is found again on restart.
 */
export function stopGracefullyOnSignals(options: GracefulStop): void {
  let stopping = false;
  const giveUp = (why: string) => {
    options.logger.warn({ why }, options.abandoned);
    process.exit(0);
  };
  const onSignal = (signal: string) => {
    if (stopping) return giveUp(`second ${signal}`);
    stopping = true;
    options.logger.info({ signal }, 'stopping: flushing and acknowledging');
    setTimeout(() => giveUp(`not stopped within ${options.graceMs} ms`), options.graceMs).unref();
    options.stop().catch((error: unknown) => options.logger.warn({ err: error }, 'stopping failed'));
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}
