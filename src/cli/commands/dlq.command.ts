import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { projectionDefinitions, resolveProjectionDefinitions } from '../../modules/projection/projection.service';
import { DeadLetterService } from '../../modules/projection/dead-letter.service';
import { TandemResources } from '../../modules/core/tandem-resources';
import { runInContext } from '../run-in-context';
import { examples } from '../help';

export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('quarantined events: list them, re-apply them after a fix');
  dlq
    .command('list')
    .description('list quarantined events with their position and reason')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('-p, --projection <name>', 'only this projection')
    .option('--all', 'include events already re-driven')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples([
        'tandem dlq list --config tandem.yaml',
        'tandem dlq list --config tandem.yaml --projection users --all --json',
      ]),
    )
    .action(async (options: { config: string; projection?: string; all?: boolean; json?: boolean }) => {
      const config = loadConfig(options.config);
      if (options.projection !== undefined) projectionDefinitions(config, options.projection); // refuses an unknown name
      await runInContext(config, async (app) => {
        const entries = await app.get(DeadLetterService).list(options.projection ?? null, options.all);
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify(
              entries.map((e) => ({
                ...e,
                offset: e.offset.toString(),
                commitLsn: e.commitLsn?.toString() ?? null,
              })),
              null,
              2,
            )}\n`,
          );
          return;
        }
        if (entries.length === 0) process.stdout.write('no quarantined events\n');
        for (const e of entries) {
          process.stdout.write(
            `#${e.id} ${e.projection} ${e.topic}[${e.partition}]@${e.offset} key=${e.sourceKey ?? '-'} ${e.status}: ${e.reason}\n`,
          );
        }
      });
    });
  dlq
    .command('redrive')
    .description('re-apply quarantined events through their projection; exit 1 if any fails again')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .requiredOption('-p, --projection <name>', 'the projection')
    .option('--id <ids...>', 'only these quarantine ids')
    .option(
      '--dry-run',
      'decode and plan each event again, write nothing (target constraints are checked only by a real re-drive)',
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem dlq redrive --config tandem.yaml --projection users',
          'tandem dlq redrive --config tandem.yaml --projection chat --id 12 13 --dry-run',
        ],
        'Exit codes: 0 every event applied, 1 some failed again (they stay quarantined).',
      ),
    )
    .action(
      async (options: {
        config: string;
        projection: string;
        id?: string[];
        dryRun?: boolean;
        json?: boolean;
      }) => {
        const config = loadConfig(options.config);
        await runInContext(config, async (app) => {
          const [definition] = await resolveProjectionDefinitions(config, options.projection, app.get(TandemResources).target);
          const results = await app.get(DeadLetterService).redrive(
            definition,
            options.id?.map(Number) ?? null,
            options.dryRun,
          );
          if (options.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
          else
            for (const r of results)
              process.stdout.write(
                `#${r.id}: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}${r.operations !== undefined ? ` (${r.operations} row operations)` : ''}\n`,
              );
          if (results.some((r) => r.outcome === 'quarantined again' || r.outcome === 'still invalid'))
            process.exitCode = 1;
        });
      },
    );
}
