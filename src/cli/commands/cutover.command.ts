import type { Command } from 'commander';
import { loadConfig } from '../../modules/config/load-config';
import { CutoverService, type CutoverRecord } from '../../modules/cutover/cutover.service';
import { operatorOf } from '../../connectors/postgres-target/operator-audit';
import { runInContext } from '../run-in-context';
import { examples } from '../help';

interface Common {
  config: string;
  operator?: string;
  json?: boolean;
}

function render(cutover: CutoverRecord, extra: string[] = []): string {
  const lines = [
    `cutover ${cutover.id}: ${cutover.state}${cutover.reason ? ` (${cutover.reason})` : ''}`,
    `  projections: ${cutover.projections.join(', ')}; application roles: ${cutover.applicationRoles.join(', ')}`,
  ];
  if (cutover.freezeLsn) lines.push(`  freeze LSN: ${cutover.freezeLsn}`);
  if (cutover.reconciliationIds) lines.push(`  reconciliations: ${cutover.reconciliationIds.join(', ')}`);
  if (cutover.backupIds) lines.push(`  backups: ${cutover.backupIds.join(', ')}`);
  if (cutover.freezeWindowMs !== null) lines.push(`  write-freeze window: ${cutover.freezeWindowMs} ms`);
  for (const step of cutover.history)
    lines.push(
      `  ${step.at}  ${step.state.padEnd(9)} by ${step.operator}${step.reason ? `: ${step.reason}` : ''}`,
    );
  return [...lines, ...extra.map((line) => `  ✓ ${line}`)].join('\n') + '\n';
}

async function withService<T>(
  options: Common,
  work: (service: CutoverService, operator: string) => Promise<T>,
): Promise<T> {
  return runInContext(loadConfig(options.config), (app) => work(app.get(CutoverService), operatorOf(options.operator)));
}

function print(options: Common, cutover: CutoverRecord, extra?: string[]): void {
  process.stdout.write(
    options.json
      ? `${JSON.stringify(extra ? { ...cutover, checks: extra } : cutover, null, 2)}\n`
      : render(cutover, extra),
  );
}

const EXIT_CODES =
  'Exit codes: 0 done, 8 a gate refused or the cutover is not in a state the command applies to (the reason is printed).';

const idOf = (id?: string) => (id === undefined ? undefined : Number(id));

export function registerCutoverCommand(program: Command): void {
  const cutover = program
    .command('cutover')
    .description(
      'switch to the new system at a recorded position: parallel → frozen → drained → verified → committed (exit 8 when a gate refuses)',
    );
  const common = (command: Command) =>
    command
      .requiredOption('-c, --config <file>', 'tandem.yaml')
      .option('--operator <name>', 'who runs this (default: $USER)')
      .option('--json', 'print the cutover as JSON');

  common(
    cutover
      .command('plan')
      .description('record a new cutover (state parallel) after the checks that need no freeze'),
  )
    .option('-p, --projection <name>', 'only this projection (default: every configured one)')
    .option('--dry-run', 'run the checks, record nothing')
    .addHelpText(
      'after',
      examples(
        [
          'tandem cutover plan --config tandem.yaml --operator alice',
          'tandem cutover plan --config tandem.yaml --projection users --dry-run --json',
        ],
        EXIT_CODES,
      ),
    )
    .action((options: Common & { projection?: string; dryRun?: boolean }) =>
      withService(options, async (service, operator) => {
        if (options.dryRun) {
          const checks = await service.checkPlan({ projection: options.projection });
          process.stdout.write(
            options.json
              ? `${JSON.stringify({ dryRun: true, checks }, null, 2)}\n`
              : checks.map((line) => `✓ ${line}\n`).join(''),
          );
          return;
        }
        const { cutover: planned, checks } = await service.plan({ operator, projection: options.projection });
        print(options, planned, checks);
      }),
    );

  common(
    cutover
      .command('start [id]')
      .description(
        'freeze legacy writes, wait until drained, verify by reconciliation (and with --commit, commit); a failed gate unfreezes',
      ),
  )
    .option('--drain-timeout <ms>', 'how long the drained gate waits', '60000')
    .option('--commit', 'commit right after the verified gate, in this process (the shortest write-freeze window)')
    .option('--threshold <ratio>', 'largest accepted reconciliation mismatch ratio', '0')
    .option('--accept-quarantined', 'the verified gate does not count quarantined rows (recorded in the reports)')
    .addHelpText(
      'after',
      examples(
        [
          'tandem cutover start --config tandem.yaml',
          'tandem cutover start 4 --config tandem.yaml --drain-timeout 120000 --json',
          'tandem cutover start --commit --config tandem.yaml --operator alice',
        ],
        EXIT_CODES,
      ),
    )
    .action((id: string | undefined, options: Common & { drainTimeout: string; threshold: string; acceptQuarantined?: boolean; commit?: boolean }) =>
      withService(options, async (service, operator) =>
        print(
          options,
          await service.start(idOf(id), {
            operator,
            drainTimeoutMs: Number(options.drainTimeout),
            threshold: Number(options.threshold),
            commit: options.commit === true,
            acceptQuarantined: options.acceptQuarantined,
          }),
        ),
      ),
    );

  common(
    cutover
      .command('commit [id]')
      .description('back up every projection and record the cutover (the legacy database stays frozen)'),
  )
    .addHelpText(
      'after',
      examples(
        [
          'tandem cutover commit --config tandem.yaml',
          'tandem cutover commit 4 --config tandem.yaml --operator alice --json',
        ],
        EXIT_CODES,
      ),
    )
    .action((id: string | undefined, options: Common) =>
      withService(options, async (service, operator) =>
        print(options, await service.commit(idOf(id), { operator })),
      ),
    );

  common(cutover.command('abort [id]').description('abandon an active cutover and unfreeze legacy writes'))
    .option('--reason <text>', 'recorded with the abort')
    .addHelpText(
      'after',
      examples(
        ['tandem cutover abort --config tandem.yaml --reason "reconciliation found drift"'],
        EXIT_CODES,
      ),
    )
    .action((id: string | undefined, options: Common & { reason?: string }) =>
      withService(options, async (service, operator) =>
        print(options, await service.abort(idOf(id), { operator, reason: options.reason })),
      ),
    );

  common(cutover.command('status [id]').description('show a cutover (default: the latest)'))
    .addHelpText(
      'after',
      examples([
        'tandem cutover status --config tandem.yaml',
        'tandem cutover status 4 --config tandem.yaml --json',
      ]),
    )
    .action((id: string | undefined, options: Common) =>
      withService(options, async (service) => print(options, await service.resolve(idOf(id)))),
    );
}
