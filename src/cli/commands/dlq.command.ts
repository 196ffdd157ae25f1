import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { projectionDefinitions, targetPool } from '../../modules/projection/projection.service';
import { DeadLetterService } from '../../modules/projection/dead-letter.service';

export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('quarantined events: list them, re-apply them after a fix');
  dlq
    .command('list')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('-p, --projection <name>', 'only this projection')
    .option('--all', 'include events already re-driven')
    .option('--json', 'print JSON')
    .action(async (options: { config: string; projection?: string; all?: boolean; json?: boolean }) => {
      const config = loadConfig(options.config);
      const pool = targetPool(config);
      try {
        const entries = await new DeadLetterService(pool, config.kafka.topicPrefix).list(options.projection ?? null, options.all);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(entries.map((e) => ({ ...e, offset: e.offset.toString(), commitLsn: e.commitLsn?.toString() ?? null })), null, 2)}\n`);
          return;
        }
        if (entries.length === 0) process.stdout.write('no quarantined events\n');
        for (const e of entries) {
          process.stdout.write(`#${e.id} ${e.projection} ${e.topic}[${e.partition}]@${e.offset} key=${e.sourceKey ?? '-'} ${e.status}: ${e.reason}\n`);
        }
      } finally {
        await pool.end();
      }
    });
  dlq
    .command('redrive')
    .description('re-apply quarantined events through their projection; exit 1 if any fails again')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .requiredOption('-p, --projection <name>', 'the projection')
    .option('--id <ids...>', 'only these quarantine ids')
    .option('--json', 'print JSON')
    .action(async (options: { config: string; projection: string; id?: string[]; json?: boolean }) => {
      const config = loadConfig(options.config);
      const [definition] = projectionDefinitions(config, options.projection);
      const pool = targetPool(config);
      try {
        const results = await new DeadLetterService(pool, config.kafka.topicPrefix).redrive(definition, options.id?.map(Number) ?? null);
        if (options.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else for (const r of results) process.stdout.write(`#${r.id}: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}\n`);
        if (results.some((r) => r.outcome !== 'applied')) process.exitCode = 1;
      } finally {
        await pool.end();
      }
    });
}
