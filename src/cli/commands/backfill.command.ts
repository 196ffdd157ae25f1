import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { runInContext } from '../run-in-context';
import { TandemResources } from '../../modules/core/tandem-resources';
import { BackfillRequests, type BackfillListing } from '../../modules/capture/backfill/backfill-requests';
import { ConfigError } from '../../shared/errors';
import { examples } from '../help';

interface BackfillOptions {
  config: string;
  table?: string;
  where?: string;
  chunkSize?: string;
  list?: boolean;
  cancel?: string;
  wait?: boolean;
  json?: boolean;
}

export function renderListing(backfills: BackfillListing[]): string {
  if (backfills.length === 0) return 'no backfills\n';
  const lines = backfills.map((b) => {
    const left = b.chunksLeft === null ? '?' : String(b.chunksLeft);
    const rate = b.rowsPerSecond === null ? '–' : `${b.rowsPerSecond} rows/s`;
    const where = b.where === null ? '' : ` where ${b.where}`;
    const error = b.error === null ? '' : ` (${b.error})`;
    return `${b.id}  ${b.table}${where}  ${b.status}${error}  ${b.rowsRead} rows read, ${b.rowsEmitted} emitted, ${b.chunksDone} chunks done, ${left} left, ${rate}`;
  });
  return `${lines.join('\n')}\n`;
}

const finished = (status: string) => status === 'done' || status === 'cancelled' || status === 'failed';

export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description('ask the running capture to read a table (or the rows matching a condition) again while it keeps streaming')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--table <schema.table>', 'the table to read; one of source.tables')
    .option('--where <sql>', "only the rows matching this SQL condition, e.g. \"created_at > '2024-01-01'\"")
    .option('--chunk-size <rows>', 'rows per chunk (default: source.snapshot.chunkSize)')
    .option('--wait', 'with --table: wait until the backfill is done, printing its progress')
    .option('--list', 'list the backfills of this capture with their progress')
    .option('--cancel <id>', 'cancel a queued or running backfill')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem backfill --config tandem.yaml --table public.orders',
          `tandem backfill --config tandem.yaml --table public.orders --where "created_at > '2024-01-01'" --chunk-size 2000`,
          'tandem backfill --config tandem.yaml --list',
          'tandem backfill --config tandem.yaml --cancel 5f0c…',
        ],
        'Backfill reads are op "r" events with source.snapshot "incremental", interleaved with the stream so that a read\n' +
          'never replaces a newer change. Exit codes: 0 requested (or listed, cancelled), 2 invalid arguments or no capture running.',
      ),
    )
    .action(async (options: BackfillOptions) => {
      const modes = [options.table !== undefined, options.list === true, options.cancel !== undefined].filter(Boolean).length;
      if (modes !== 1) throw new ConfigError('backfill: give exactly one of --table, --list, --cancel');
      if (options.table === undefined && (options.where !== undefined || options.chunkSize !== undefined || options.wait)) {
        throw new ConfigError('backfill: --where, --chunk-size and --wait go with --table');
      }
      const config = loadConfig(options.config);
      await runInContext(config, async (app) => {
        const requests = await BackfillRequests.open(config, app.get(TandemResources).source);
        const print = (text: string, json: unknown) => process.stdout.write(options.json ? `${JSON.stringify(json, null, 2)}\n` : text);
        try {
          if (options.list) {
            const backfills = await requests.list();
            print(renderListing(backfills), backfills);
            return;
          }
          if (options.cancel !== undefined) {
            await requests.cancel(options.cancel);
            print(`cancel of ${options.cancel} sent to the running capture\n`, { cancelled: options.cancel });
            return;
          }
          const chunkSize = options.chunkSize === undefined ? null : Number(options.chunkSize);
          const id = await requests.request(options.table!, options.where ?? null, chunkSize);
          if (!options.json) process.stdout.write(`backfill ${id} of ${options.table} requested; capture reads it while streaming (tandem backfill --list)\n`);
          let last: BackfillListing | undefined;
          while (options.wait) {
            last = (await requests.list()).find((b) => b.id === id);
            if (last && finished(last.status)) break;
            if (last && !options.json) process.stdout.write(renderListing([last]));
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
          if (options.json) process.stdout.write(`${JSON.stringify(last ?? { id }, null, 2)}\n`);
          else if (last) process.stdout.write(renderListing([last]));
          if (last && last.status !== 'done') process.exitCode = 1;
        } finally {
          await requests.close();
        }
      });
    });
}
