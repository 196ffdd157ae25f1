import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { TANDEM_LOGGER } from '../../modules/config/config.module';
import { CaptureService, type CapturePlan } from '../../modules/capture/capture.service';
import type { Logger } from '../../shared/logger';
import { runInContext } from '../run-in-context';
import { examples } from '../help';
import { stopGracefullyOnSignals } from '../run-until-signal';

/** SIGTERM/SIGINT: flush and acknowledge within this, else exit anyway (the README promises 10 s). */
const STOP_GRACE_MS = 7000;

function renderPlan(plan: CapturePlan): string {
  const lines = [
    'source ready: wal_level=logical, REPLICATION privilege, SELECT and a key (or REPLICA IDENTITY FULL) on every table',
    `slot ${plan.slot.name}: ${plan.slot.exists ? `exists, confirmed up to ${plan.slot.confirmedFlushLsn ?? '–'}` : 'would be created'}`,
    `kafka: answers (${plan.kafka.brokers} broker${plan.kafka.brokers === 1 ? '' : 's'})`,
    `publication ${plan.publication.name}: ${plan.publication.exists ? 'exists (missing tables would be added)' : 'would be created'}`,
    `snapshot: ${plan.snapshot}`,
    ...plan.tables.map(
      (t) =>
        `  ${t.table} → ${t.topic} (key ${t.keyColumns.join(', ') || '–'}, replica identity ${t.replicaIdentity}, ${t.columns} columns)`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function registerCaptureCommand(program: Command): void {
  program
    .command('capture')
    .description('stream every committed change of the source tables into Kafka until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--resnapshot', 'drop the slot and the stored position, and snapshot every table again')
    .option(
      '--dry-run',
      'run the source checks and show the slot, publication, tables and topics; create nothing',
    )
    .option('--json', 'with --dry-run: print the plan as JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem capture --config tandem.yaml',
          'tandem capture --config tandem.yaml --dry-run',
          'tandem capture --config tandem.yaml --resnapshot',
        ],
        'Exit codes: 0 stopped by SIGTERM/SIGINT, 2 invalid configuration, 3 source not ready, 4 position lost (re-snapshot needed).',
      ),
    )
    .action(async (options: { config: string; resnapshot?: boolean; dryRun?: boolean; json?: boolean }) => {
      const config = loadConfig(options.config);
      await runInContext(config, async (app) => {
        const capture = app.get(CaptureService);
        if (options.dryRun) {
          const plan = await capture.check();
          process.stdout.write(options.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlan(plan));
          return;
        }
        const logger = app.get<Logger>(TANDEM_LOGGER);
        stopGracefullyOnSignals({
          stop: () => capture.stop(),
          graceMs: STOP_GRACE_MS,
          logger,
          abandoned:
            'stopped before the last Kafka transaction was committed: those changes were not acknowledged and will be read again from the slot on restart',
        });
        await capture.run({ resnapshot: options.resnapshot });
        logger.info(capture.status(), 'capture stopped');
      });
    });
}
