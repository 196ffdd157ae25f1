import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { ProjectionService } from '../../modules/projection/projection.service';
import { DryRunReport } from '../../modules/projection/dry-run-report';
import { createLogger } from '../../shared/logger';
import { untilSignal } from '../run-until-signal';

/** A dry run stops once no batch came for this long (after the grace for joining its consumer group). */
const DRY_RUN_IDLE_MS = 3000;
const DRY_RUN_JOIN_GRACE_MS = 5000;

export function registerProjectCommand(program: Command): void {
  program
    .command('project')
    .description('replay the change log into the target projections until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('-p, --projection <name>', 'run only this projection')
    .option('--dry-run', 'read and plan without writing: print the SQL, the id mappings and a summary, then stop')
    .option('--json', 'with --dry-run: print the summary as JSON')
    .action(async (options: { config: string; projection?: string; dryRun?: boolean; json?: boolean }) => {
      const config = loadConfig(options.config);
      const logger = createLogger('tandem').child({ module: 'projection' });
      const service = new ProjectionService(config, logger);
      if (!options.dryRun) {
        await service.start({ projection: options.projection });
        const signal = await untilSignal();
        logger.info({ signal }, 'stopping: finishing the batch in progress');
        await service.stop();
        return;
      }
      const report = new DryRunReport((line) => options.json || process.stdout.write(`${line}\n`));
      let lastBatchAt = Date.now() + DRY_RUN_JOIN_GRACE_MS;
      await service.start({
        projection: options.projection,
        plan: (definition, items) => {
          lastBatchAt = Date.now();
          report.add(definition, items);
        },
      });
      while (Date.now() - lastBatchAt < DRY_RUN_IDLE_MS) await new Promise((resolve) => setTimeout(resolve, 200));
      await service.stop();
      process.stdout.write(options.json ? `${JSON.stringify(report.summary, null, 2)}\n` : `${report.render()}\n`);
    });
}
