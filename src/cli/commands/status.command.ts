import type { Command } from 'commander';
import { runInContext } from '../run-in-context';
import { loadConfig } from '../../modules/config/load-config';
import { StatusService } from '../../modules/status/status.service';
import { renderStatus } from '../../modules/status/status.render';
import { ConfigError } from '../../shared/errors';
import { untilSignal } from '../run-until-signal';
import { examples } from '../help';

interface StatusOptions {
  config: string;
  json?: boolean;
  watch?: string;
  window: string;
}

function seconds(value: string, option: string, minimum: number): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < minimum)
    throw new ConfigError(`${option}: must be a number of seconds ≥ ${minimum} (got "${value}")`);
  return parsed;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'show the pipeline: per source slot and projection the state, lag (bytes, events, seconds), throughput, checkpoint, quarantine, last reconciliation and cutover',
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--json', 'print the status as JSON (with --watch: one JSON document per line)')
    .option('--watch <seconds>', 'read again every SECONDS until Ctrl-C; rates cover the last minute')
    .option('--window <seconds>', 'a single read samples twice this far apart, to measure throughput', '2')
    .addHelpText(
      'after',
      examples(
        [
          'tandem status --config tandem.yaml',
          "tandem status --config tandem.yaml --json | jq '.projections[] | {projection, state, lagEvents}'",
          'tandem status --config tandem.yaml --watch 5',
        ],
        'States: source slot streaming | idle | missing; projection running | caught-up | stalled | not-started.',
      ),
    )
    .action(async (options: StatusOptions) => {
      const windowSeconds = seconds(options.window, '--window', 0);
      const watchSeconds = options.watch === undefined ? null : seconds(options.watch, '--watch', 1);
      const config = loadConfig(options.config);
      await runInContext(config, async (app) => {
        const service = app.get(StatusService);
        if (watchSeconds === null) {
          const status = await service.readOver(windowSeconds * 1000);
          process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
          return;
        }
        const clear = !options.json && process.stdout.isTTY === true;
        let stopped = false;
        void untilSignal().then(() => (stopped = true));
        while (!stopped) {
          const status = await service.read();
          if (options.json) process.stdout.write(`${JSON.stringify(status)}\n`);
          else process.stdout.write(`${clear ? '\x1b[2J\x1b[H' : ''}${renderStatus(status)}\n`);
          const next = Date.now() + watchSeconds * 1000;
          while (!stopped && Date.now() < next) await new Promise((resolve) => setTimeout(resolve, 100));
        }
      });
    });
}
