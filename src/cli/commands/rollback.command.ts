import type { Command } from 'commander';
import { operatorOf } from '../../connectors/postgres-target/operator-audit';
import { renderReplay, withReplayService } from './replay.command';
import { examples } from '../help';

export function registerRollbackCommand(program: Command): void {
  program
    .command('rollback')
    .description(
      "replay a committed cutover's projections to its offsets and export every event after them as JSON lines (stop tandem project first)",
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .requiredOption('--cutover <id>', 'the committed cutover')
    .requiredOption(
      '--export <file>',
      'JSON-lines file of the events after the cutover (per projection when several)',
    )
    .option('--dry-run', 'export, but build and swap nothing')
    .option('--operator <name>', 'who runs this (default: $USER)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem rollback --config tandem.yaml --cutover 3 --export after-cutover.jsonl',
          'tandem rollback --config tandem.yaml --cutover 3 --export after.jsonl --dry-run --json',
        ],
        'Exit codes: 0 rolled back, 9 refused (projector running, cutover not committed).',
      ),
    )
    .action(
      async (options: {
        config: string;
        cutover: string;
        export: string;
        dryRun?: boolean;
        operator?: string;
        json?: boolean;
      }) => {
        const results = await withReplayService(options.config, (service) =>
          service.rollback(
            Number(options.cutover),
            options.export,
            operatorOf(options.operator),
            options.dryRun,
          ),
        );
        process.stdout.write(
          options.json ? `${JSON.stringify(results, null, 2)}\n` : results.map(renderReplay).join(''),
        );
      },
    );
}
