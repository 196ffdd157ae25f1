import type { Command } from 'commander';
import { operatorOf } from '../../connectors/postgres-target/operator-audit';
import { withReplayService } from './replay.command';
import { examples } from '../help';

export function registerBackupCommand(program: Command): void {
  const backup = program
    .command('backup')
    .description(
      'the projection states replaced by replays and restores, and those taken before cutover commits',
    );
  backup
    .command('list')
    .description('list backups: id, projection, kind, when, operator, and the schema holding it')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('-p, --projection <name>', 'only this projection')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples([
        'tandem backup list --config tandem.yaml',
        'tandem backup list --config tandem.yaml --projection users --json',
      ]),
    )
    .action(async (options: { config: string; projection?: string; json?: boolean }) => {
      const backups = await withReplayService(options.config, (service) =>
        service.listBackups(options.projection),
      );
      if (options.json) {
        process.stdout.write(`${JSON.stringify(backups, null, 2)}\n`);
        return;
      }
      for (const b of backups) {
        const where = b.restoredAt ? `restored ${b.restoredAt}` : b.present ? b.schemaName : 'dropped';
        process.stdout.write(
          `${b.id}\t${b.projection}\t${b.kind}\t${b.takenAt}\t${b.operator}\t${where}\t${b.note ?? ''}\n`,
        );
      }
    });
  backup
    .command('restore <id>')
    .description(
      'swap a backup back in atomically (the replaced state becomes a new backup); stop tandem project first',
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--operator <name>', 'who runs this (default: $USER)')
    .option('--dry-run', 'run every check (backup present, projector stopped), swap nothing')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem backup restore 12 --config tandem.yaml',
          'tandem backup restore 12 --config tandem.yaml --dry-run --json',
        ],
        'Exit codes: 0 restored, 9 refused (projector running).',
      ),
    )
    .action(
      async (
        id: string,
        options: { config: string; operator?: string; dryRun?: boolean; json?: boolean },
      ) => {
        const result = await withReplayService(options.config, (service) =>
          service.restore(Number(id), operatorOf(options.operator), options.dryRun),
        );
        process.stdout.write(
          options.json
            ? `${JSON.stringify(result, null, 2)}\n`
            : result.dryRun
              ? `backup ${id} of ${result.restored.projection} (${result.restored.schemaName}) can be restored; nothing was changed\n`
              : `restored backup ${id} of ${result.restored.projection}${result.replacedBy !== null ? `; the replaced state is backup ${result.replacedBy}` : ''}\n`,
        );
      },
    );
}
