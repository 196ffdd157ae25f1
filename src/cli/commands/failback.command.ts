import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { operatorOf } from '../../connectors/postgres-target/operator-audit';
import type { FailbackRecord } from '../../connectors/postgres-target/failback-repository';
import { FailbackService } from '../../modules/failback/failback.service';
import type { FailbackLag } from '../../modules/failback/failback-lag';
import { runInContext } from '../run-in-context';
import { ConfigError } from '../../shared/errors';
import { examples } from '../help';
import { untilSignal } from '../run-until-signal';

interface Common {
  config: string;
  cutover?: string;
  operator?: string;
  json?: boolean;
}

const idOf = (id?: string) => (id === undefined ? undefined : Number(id));

async function withService<T>(options: Common, work: (service: FailbackService) => Promise<T>): Promise<T> {
  return runInContext(loadConfig(options.config), (app) => work(app.get(FailbackService)));
}

export function renderFailback(record: FailbackRecord, lag?: FailbackLag): string {
  const lines = [
    `failback of cutover ${record.cutoverId}: ${record.state} (projections ${record.projections.join(', ')}; target slot ${record.slot} from ${record.startLsn})`,
  ];
  if (lag) {
    const bytes = lag.slot.behindBytes === null ? '–' : `${lag.slot.behindBytes} bytes of target WAL unconfirmed`;
    lines.push(`  capture: ${lag.slot.active ? 'streaming' : 'not running'}, ${bytes}`);
    for (const p of lag.projections)
      lines.push(`  ${p.projection}: ${p.behindRecords} records to apply, legacy at target LSN ${p.appliedLsn ?? '–'}, ${p.quarantined} quarantined`);
    lines.push(`  ${lag.caughtUp ? 'caught up' : 'behind'}`);
  }
  if (record.rollback) lines.push(`  ${record.state === 'rolled-back' ? 'rollback' : 'ended'}: ${JSON.stringify(record.rollback)}`);
  return `${lines.join('\n')}\n`;
}

const EXIT_CODES = 'Exit codes: 0 done, 2 invalid configuration, 9 refused (the reason is printed: no committed cutover, a projection without an inverse).';

export function registerFailbackCommand(program: Command): void {
  const failback = program
    .command('failback')
    .description("after a committed cutover, carry the target's writes back to the legacy tables through each projection's inverse");

  failback
    .command('start')
    .description('prepare failback if the commit did not, then capture and apply until SIGTERM/SIGINT')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--cutover <id>', 'the committed cutover (default: the latest)')
    .option('--only <part>', 'run only "capture" (target → Kafka) or "apply" (Kafka → legacy)')
    .option('--operator <name>', 'who runs this (default: $USER)')
    .addHelpText(
      'after',
      examples(
        ['tandem failback start --config tandem.yaml', 'tandem failback start --config tandem.yaml --cutover 3 --only apply'],
        EXIT_CODES,
      ),
    )
    .action(async (options: Common & { only?: string }) => {
      if (options.only !== undefined && options.only !== 'capture' && options.only !== 'apply')
        throw new ConfigError(`--only: "${options.only}" is not capture or apply`);
      await withService(options, async (service) => {
        const record = await service.prepare(idOf(options.cutover), operatorOf(options.operator));
        process.stderr.write(renderFailback(record));
        const running = service.run(record, { capture: options.only !== 'apply', apply: options.only !== 'capture' });
        await Promise.race([running, untilSignal().then(() => service.stop())]);
        await running;
      });
    });

  failback
    .command('status')
    .description("a failback's state and lag: target WAL not yet captured, records not yet applied to legacy, quarantined")
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--cutover <id>', 'the cutover (default: the latest with a failback)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples(['tandem failback status --config tandem.yaml', 'tandem failback status --config tandem.yaml --json'], EXIT_CODES))
    .action(async (options: Common) => {
      await withService(options, async (service) => {
        const record = await service.record(idOf(options.cutover));
        const lag = record.state === 'active' ? await service.readLag(record.cutoverId) : undefined;
        process.stdout.write(options.json ? `${JSON.stringify({ ...record, lag }, null, 2)}\n` : renderFailback(record, lag));
      });
    });

  failback
    .command('stop')
    .description('end failback for good: drop the target slot and publication, restore the table settings it changed (stop `failback start` first)')
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .option('--cutover <id>', 'the cutover (default: the latest with a failback)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples(['tandem failback stop --config tandem.yaml --cutover 3'], EXIT_CODES))
    .action(async (options: Common) => {
      await withService(options, async (service) => {
        const record = await service.end(idOf(options.cutover));
        process.stdout.write(options.json ? `${JSON.stringify(record, null, 2)}\n` : renderFailback(record));
      });
    });
}
