import { SingleBar, Presets } from 'cli-progress';
import type { Logger } from './logger';

/** Progress of long work: a bar with rate and ETA on a terminal, a log line every few seconds otherwise. */
export interface Progress {
  increment(count: number): void;
  stop(): void;
}

export function createProgress(
  label: string,
  total: number,
  logger: Logger,
  interactive = process.stderr.isTTY === true,
  unit = 'rows',
): Progress {
  const started = Date.now();
  let done = 0;
  if (interactive) {
    const bar = new SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, { rate: 0 });
    return {
      increment(count) {
        done += count;
        bar.update(done, { rate: Math.round(done / Math.max((Date.now() - started) / 1000, 0.001)) });
      },
      stop: () => bar.stop(),
    };
  }
  let lastLog = started;
  const log = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = Math.round(done / seconds);
    const eta = rate > 0 ? Math.round(Math.max(total - done, 0) / rate) : null;
    logger.info(
      { done, total, unit, perSecond: rate, etaSeconds: eta },
      `${label}: ${done}/${total} ${unit}`,
    );
  };
  return {
    increment(count) {
      done += count;
      if (Date.now() - lastLog >= 5000) {
        lastLog = Date.now();
        log();
      }
    },
    stop: log,
  };
}
