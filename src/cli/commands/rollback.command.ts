import type { Command } from 'commander';
import { operatorOf } from '../../connectors/postgres-target/operator-audit';
import { loadConfig } from '../../modules/config/load-config';
import { failbackStore } from '../../connectors/postgres-target/failback-repository';
import { FailbackService } from '../../modules/failback/failback.service';
import { rollbackThroughFailback } from '../../modules/failback/failback-rollback';
import { ensureTandemSchema } from '../../connectors/postgres-target/tandem-schema';
import { ConfigError } from '../../shared/errors';
import { createLogger } from '../../shared/logger';
import { renderReplay } from './replay.command';
import { ReplayService } from '../../modules/replay/replay.service';
import { runInContext } from '../run-in-context';
import { renderFailback } from './failback.command';
import { examples } from '../help';

interface RollbackFlags {
  config: string;
  cutover: string;
  export?: string;
  dryRun?: boolean;
  operator?: string;
  json?: boolean;
  drainTimeout: string;
}

export function registerRollbackCommand(program: Command): void {
  program
    .command('rollback')
    .description(
      "return a committed cutover to the legacy database: through failback when it runs (freeze the target, drain failback, verify, unfreeze legacy), else replay the projections to the cutover's offsets and export every event after them as JSON lines (stop tandem project first)",
    )
    .requiredOption('-c, --config <file>', 'tandem.yaml')
    .requiredOption('--cutover <id>', 'the committed cutover')
    .option('--export <file>', 'without failback: JSON-lines file of the events after the cutover (per projection when several)')
    .option('--drain-timeout <ms>', 'with failback: how long the drain to the freeze position may take', '60000')
    .option('--dry-run', 'without failback: export, but build and swap nothing; with failback: show the lag gate only')
    .option('--operator <name>', 'who runs this (default: $USER)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examples(
        [
          'tandem rollback --config tandem.yaml --cutover 3',
          'tandem rollback --config tandem.yaml --cutover 3 --export after-cutover.jsonl',
          'tandem rollback --config tandem.yaml --cutover 3 --export after.jsonl --dry-run --json',
        ],
        'Exit codes: 0 rolled back, 9 refused (failback lags or is not running, a gate failed, projector running, cutover not committed).',
      ),
    )
    .action(async (options: RollbackFlags) => {
      const config = loadConfig(options.config);
      const operator = operatorOf(options.operator);
      await runInContext(config, async (app) => {
        const service = app.get(FailbackService);
        await ensureTandemSchema(service.targetPool);
        const failback = await failbackStore.get(service.targetPool, Number(options.cutover));
        if (failback?.state === 'active') {
          const result = options.dryRun
            ? { ...failback, lag: await service.readLag(failback.cutoverId) }
            : await rollbackThroughFailback(service, config, createLogger('tandem').child({ module: 'rollback' }), failback.cutoverId, {
                operator,
                drainTimeoutMs: Number(options.drainTimeout),
              });
          process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : renderFailback(result, 'lag' in result ? result.lag : undefined));
          return;
        }
        if (!options.export) throw new ConfigError(`--export: cutover ${options.cutover} has no running failback, so rollback replays and exports: name the file`);
        const results = await app.get(ReplayService).rollback(Number(options.cutover), options.export, operator, options.dryRun);
        process.stdout.write(options.json ? `${JSON.stringify(results, null, 2)}\n` : results.map(renderReplay).join(''));
      });
    });
}
