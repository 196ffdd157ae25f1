import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { ImportService } from '../../modules/import/import.service';
import { runInContext } from '../run-in-context';
import { examples } from '../help';

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description(
      'append a recipe\'s export files to the log as op "r" events (validated first; all or nothing)',
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .requiredOption('-r, --recipe <name>', 'users, knowledge-base or memory')
    .requiredOption('-f, --from <files...>', 'the export files, e.g. nakamoto_users.json tenant_mapping.csv')
    .option('--dry-run', 'validate and count, write nothing')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem import --config tandem.yaml --recipe users --from nakamoto_users.json tenant_mapping.csv',
          'tandem import --config tandem.yaml --recipe memory --from nodes.json nodes.npy --dry-run --json',
        ],
        'Exit codes: 0 imported (or validated with --dry-run), 5 a file is invalid (nothing written).',
      ),
    )
    .action(
      async (options: {
        config: string;
        recipe: string;
        from: string[];
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const config = loadConfig(options.config);
        const summary = await runInContext(config, (app) =>
          app.get(ImportService).run(options.recipe, options.from, { dryRun: options.dryRun }),
        );
        if (options.json) {
          process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${summary.dryRun ? 'would import' : 'imported'} ${summary.records} records from ${summary.files.length} file(s)\n`,
        );
        for (const [table, count] of Object.entries(summary.perTable)) {
          process.stdout.write(`  ${config.kafka.topicPrefix}.import.${table}: ${count}\n`);
        }
      },
    );
}
