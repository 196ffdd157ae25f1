import { Command, CommanderError } from 'commander';
import { TANDEM_VERSION } from '../contracts/version';
import { registerCaptureCommand } from './commands/capture.command';
import { registerProjectCommand } from './commands/project.command';
import { registerDlqCommand } from './commands/dlq.command';
import { registerImportCommand } from './commands/import.command';
import { registerReconcileCommand } from './commands/reconcile.command';
import { registerSchemaDiffCommand } from './commands/schema-diff.command';
import { registerCutoverCommand } from './commands/cutover.command';
import { registerReplayCommand } from './commands/replay.command';
import { registerBackupCommand } from './commands/backup.command';
import { registerRollbackCommand } from './commands/rollback.command';
import { registerFailbackCommand } from './commands/failback.command';
import { registerServeCommand } from './commands/serve.command';
import { registerStatusCommand } from './commands/status.command';
import { registerBackfillCommand } from './commands/backfill.command';
import { registerInitCommand } from './commands/init.command';
import { ExitCode, exitCodeFor } from './exit-codes';
import { redactSecrets } from '../shared/redact';
import { nameKafkaError } from '../shared/endpoint';

const program = new Command('tandem')
  .description('Run a legacy PostgreSQL database and its replacement in tandem, through Kafka.')
  .version(TANDEM_VERSION)
  .addHelpText(
    'after',
    `
Every command takes --help. Output for scripts: --json; logs are JSON lines on stderr (TANDEM_LOG_LEVEL).

Exit codes:
  0 done    1 failure    2 invalid configuration or arguments    3 source not ready
  4 capture position lost (re-snapshot)    5 invalid import file    6 reconciliation FAIL
  7 schema differences    8 cutover gate refused    9 replay/restore/rollback refused

Examples:
  $ tandem init --source postgres://app@legacy-db/app --schema shop
  $ tandem capture --config tandem.yaml
  $ tandem backfill --config tandem.yaml --table public.orders
  $ tandem project --config tandem.yaml
  $ tandem status --config tandem.yaml --watch 5`,
  )
  // bad arguments (a missing --to, an unknown option) exit 2 like every invalid input; subcommands inherit this
  .exitOverride();
registerInitCommand(program);
registerCaptureCommand(program);
registerBackfillCommand(program);
registerProjectCommand(program);
registerDlqCommand(program);
registerImportCommand(program);
registerReconcileCommand(program);
registerSchemaDiffCommand(program);
registerCutoverCommand(program);
registerReplayCommand(program);
registerBackupCommand(program);
registerRollbackCommand(program);
registerFailbackCommand(program);
registerServeCommand(program);
registerStatusCommand(program);

/** Exits once stdout and stderr are flushed: a pipe takes output asynchronously, and exit would cut long JSON short. */
function exit(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

program.parseAsync(process.argv).then(
  () => exit(Number(process.exitCode ?? 0)),
  (thrown: Error) => {
    const error = nameKafkaError(thrown) as Error;
    // commander has already printed its own message (a missing option, an unknown command, --help)
    if (error instanceof CommanderError) return exit(error.exitCode === 0 ? 0 : ExitCode.invalidConfig);
    process.stderr.write(`tandem: ${redactSecrets(error.message)}\n`);
    exit(exitCodeFor(error));
  },
);
