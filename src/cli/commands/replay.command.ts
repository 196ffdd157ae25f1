import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { operatorOf } from '../../connectors/postgres-target/operator-audit';
import { ReplayService, type ReplayResult } from '../../modules/replay/replay.service';
import { runInContext } from '../run-in-context';
import { examples } from '../help';

export async function withReplayService<T>(
  config: string,
  work: (service: ReplayService) => Promise<T>,
): Promise<T> {
  return runInContext(loadConfig(config), (app) => work(app.get(ReplayService)));
}

export function renderReplay(result: ReplayResult): string {
  const lines = [
    `${result.dryRun ? 'dry run of replay' : 'replay'} ${result.id} of ${result.projection} to ${result.position}: ${result.eventsRead} events read, ${result.eventsApplied} applied, ${result.eventsQuarantined} quarantined (${result.durationMs} ms)`,
    `  offsets: ${
      Object.entries(result.offsets)
        .map(([pid, offset]) => `${pid}=${offset}`)
        .join(', ') || 'none'
    }`,
  ];
  if (result.state)
    lines.push(
      `  state: ${Object.entries(result.state.rows)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ')}; hash ${result.state.hash}`,
    );
  if (result.backupId !== null)
    lines.push(
      `  the replaced state is backup ${result.backupId} (tandem backup restore ${result.backupId})`,
    );
  if (result.exported !== null) lines.push(`  exported ${result.exported} events after the position`);
  return `${lines.join('\n')}\n`;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      'rebuild a projection from its log up to a position in a shadow schema, verify it, swap it in atomically (stop tandem project first)',
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .requiredOption('-p, --projection <name>', 'the projection to rebuild')
    .requiredOption(
      '--to <position>',
      'lsn:X/Y, offsets:topic#p=o,…, time:ISO-8601, cutover:ID or checkpoint:ID',
    )
    .option('--dry-run', 'resolve the position and count the events; build and swap nothing')
    .option('--operator <name>', 'who runs this (default: $USER)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem replay --config tandem.yaml --projection users --to lsn:16/B374D848 --dry-run',
          'tandem replay --config tandem.yaml --projection users --to time:2026-11-22T10:00:00Z',
          'tandem replay --config tandem.yaml --projection users --to cutover:3 --json',
        ],
        'Exit codes: 0 replayed (or counted with --dry-run), 9 refused (projector running, position unknown or not in the log).',
      ),
    )
    .action(
      async (options: {
        config: string;
        projection: string;
        to: string;
        dryRun?: boolean;
        operator?: string;
        json?: boolean;
      }) => {
        const result = await withReplayService(options.config, (service) =>
          service.replay({
            projection: options.projection,
            to: options.to,
            dryRun: options.dryRun,
            operator: operatorOf(options.operator),
          }),
        );
        process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : renderReplay(result));
      },
    );
}
