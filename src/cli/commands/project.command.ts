import type { Command } from 'commander';
import { runInContext } from '../run-in-context';
import { loadConfig } from '../../modules/config/load-config';
import { ProjectionService } from '../../modules/projection/projection.service';
import { DryRunReport } from '../../modules/projection/dry-run-report';
import { MetricsEndpoint } from '../../modules/metrics/metrics-endpoint';
import { ConfigError } from '../../shared/errors';
import { createLogger } from '../../shared/logger';
import { untilSignal } from '../run-until-signal';
import { examples } from '../help';
import { limitHeapGrowth } from '../../shared/heap-growth';

/**
 * A dry run stops once no batch came for DRY_RUN_IDLE_MS and every partition it read was read to its
 * end (a slow batch on a loaded machine must not end it early); after DRY_RUN_MAX_IDLE_MS without a
 * batch it stops in any case (a partition ending in an aborted transaction is never "read to its end").
 */
const DRY_RUN_IDLE_MS = 3000;
const DRY_RUN_MAX_IDLE_MS = 30_000;
const DRY_RUN_JOIN_GRACE_MS = 5000;

export function registerProjectCommand(program: Command): void {
  program
    .command('project')
    .description('replay the change log into the target projections until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('-p, --projection <name>', 'run only this projection')
    .option(
      '--dry-run',
      'read and plan without writing: print the SQL, the id mappings and a summary, then stop',
    )
    .option('--json', 'with --dry-run: print the summary as JSON')
    .addHelpText(
      'after',
      examples([
        'tandem project --config tandem.yaml',
        'tandem project --config tandem.yaml --projection users',
        'tandem project --config tandem.yaml --projection users --dry-run --json',
      ]),
    )
    .option(
      '--metrics-port <port>',
      "serve this process's Prometheus metrics (batch apply latency) on 127.0.0.1:<port>/metrics",
    )
    .action(
      async (options: {
        config: string;
        projection?: string;
        dryRun?: boolean;
        json?: boolean;
        metricsPort?: string;
      }) => {
        limitHeapGrowth();
        const config = loadConfig(options.config);
        const logger = createLogger('tandem').child({ module: 'projection' });
        await runInContext(config, async (app) => {
          const service = app.get(ProjectionService);
          if (!options.dryRun) {
            const endpoint = options.metricsPort === undefined ? null : new MetricsEndpoint();
            if (endpoint) {
              const port = Number(options.metricsPort);
              if (!Number.isInteger(port) || port < 0 || port > 65_535)
                throw new ConfigError('--metrics-port: must be a whole number from 0 to 65535');
              logger.info(
                { port: await endpoint.listen(port, '127.0.0.1') },
                'projector metrics on /metrics',
              );
            }
            await service.start({ projection: options.projection, onBatchApplied: endpoint?.onBatchApplied });
            const signal = await untilSignal();
            logger.info({ signal }, 'stopping: finishing the batch in progress');
            await service.stop();
            await endpoint?.close();
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
          const finished = () => {
            const idle = Date.now() - lastBatchAt;
            return (idle >= DRY_RUN_IDLE_MS && service.caughtUp()) || idle >= DRY_RUN_MAX_IDLE_MS;
          };
          while (!finished()) await new Promise((resolve) => setTimeout(resolve, 200));
          await service.stop();
          process.stdout.write(
            options.json ? `${JSON.stringify(report.summary, null, 2)}\n` : `${report.render()}\n`,
          );
        });
      },
    );
}
